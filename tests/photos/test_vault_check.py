"""`manage.py vault_check`: every blob re-checked, damage and orphans reported."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from tests.objectstore import s3_bucket, s3_settings  # noqa: F401 - a fixture
from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.blobstore import get_store
from vault.blobstore.local import LocalStore
from vault.photos import storage
from vault.photos.models import Blob, Photo
from vault.photos.sanity import ABANDONED_AFTER, sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_photos(owner_client, worker_key):
    upload(owner_client, ("a.jpg", support.jpeg()), ("b.png", support.png()))
    assert run_jobs() == ["ready", "ready"]
    return list(Photo.objects.order_by("uploaded_at"))


def check(*args, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("vault_check", *args, stdout=out)
    return out.getvalue()


def test_a_healthy_vault_passes_with_and_without_the_users_password(
    store_kind, two_photos, owner, monkeypatch
):
    assert "ok: 6 blob(s) checked, 0 authenticated" in check()
    out = check(
        "--user",
        owner.email,
        "--password-stdin",
        "--chunks",
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert "ok: 6 blob(s) checked, 6 authenticated" in out


@pytest.fixture(params=["local", "s3"])
def store_kind(request, settings):
    """Each test of the sweep runs on the local directory and on a real S3 bucket (weed)."""
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        s3_settings(settings, bucket, request.getfixturevalue("seaweed"))
    return request.param


def _start_partial_write(key: str) -> None:
    """What a process killed in the middle of a write leaves: a temporary file beside the
    object, or an unfinished multipart upload."""
    store = get_store()
    if isinstance(store, LocalStore):
        temporary = store.path(key).parent / f".{store.path(key).name}.x1.tmp"
        temporary.write_bytes(b"half")
    else:
        store.client.create_multipart_upload(Bucket=store.bucket, Key=key)


def test_damage_orphans_and_abandoned_writes_are_listed_alike_in_both_stores(
    store_kind, two_photos, owner
):
    store = get_store()
    assert store.kind == store_kind
    first, second = two_photos
    thumb = storage.blob_key(owner.pk, first.id, "thumb")
    with store.reader(thumb) as reader:
        data = reader.read_at(0, reader.size)
    with store.writer(thumb) as writer:  # truncated
        writer.write(data[:-5])
        writer.finish()
    store.delete(storage.blob_key(owner.pk, second.id, "preview"))  # row without object
    stray = storage.blob_key(owner.pk, second.id, "face", 0)  # object without row
    with store.writer(stray) as writer:
        writer.write(b"\x89SPV")
        writer.finish()
    big_thumb = Blob.objects.get(photo=second, variant="thumb")
    Blob.objects.filter(pk=big_thumb.pk).update(size=big_thumb.size + 1)  # wrong size
    _start_partial_write(storage.blob_key(owner.pk, second.id, "thumb", 7))
    out = io.StringIO()
    with pytest.raises(CommandError, match="4 problem"):
        call_command("vault_check", stdout=out)
    report = out.getvalue()
    assert f"damaged object: thumb-0 of photo {first.id} (user {owner.pk}): {thumb}" in report
    assert f"missing object: preview-0 of photo {second.id}" in report
    assert f"orphan object (no row): {stray}" in report
    assert (
        f"wrong size: thumb-0 of photo {second.id} (user {owner.pk}): row says "
        f"{big_thumb.size + 1} bytes, object holds {big_thumb.size}"
    ) in report
    # A write started minutes ago may be an upload in progress: left alone, no problem...
    assert "left alone a partial write started 0 min ago (perhaps in progress): " in report
    assert not any("discarded" in line for line in report.splitlines())
    # ...one a day old is abandoned: discarded.
    later = sweep(now=datetime.now(UTC) + ABANDONED_AFTER + timedelta(minutes=1))
    key = storage.blob_key(owner.pk, second.id, "thumb", 7)
    assert f"discarded a partial write abandoned 24 h ago: {key}" in later.notes
    assert sweep().notes == [], "the abandoned write is still there"


def test_a_blob_swapped_between_photos_fails_authentication(two_photos, owner, monkeypatch):
    first, second = two_photos
    # Same size is needed to pass the structural check: copy a whole blob over its sibling.
    source = storage.blob_path(owner.pk, first.id, "thumb")
    target = storage.blob_path(owner.pk, second.id, "thumb")
    target.write_bytes(source.read_bytes())
    Blob.objects.filter(photo=second, variant="thumb").update(
        size=Blob.objects.get(photo=first, variant="thumb").size
    )
    assert "ok:" in check()  # without keys the swap cannot be seen...
    with pytest.raises(CommandError, match="1 problem"):  # ...with them it can
        check(
            "--user",
            owner.email,
            "--password-stdin",
            stdin=PASSWORD + "\n",
            monkeypatch=monkeypatch,
        )


def test_wrong_password_is_refused(two_photos, owner, monkeypatch):
    with pytest.raises(CommandError, match="does not unlock"):
        check("--user", owner.email, "--password-stdin", stdin="guess\n", monkeypatch=monkeypatch)
