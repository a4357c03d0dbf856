"""`manage.py vault_check`: every blob re-checked, damage and orphans reported."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos import storage
from vault.photos.models import Blob, Photo

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


def test_a_healthy_vault_passes_with_and_without_the_users_password(two_photos, owner, monkeypatch):
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


def test_damage_and_orphans_are_listed(two_photos, owner, monkeypatch, data_dir):
    first, second = two_photos
    thumb = storage.blob_path(owner.pk, first.id, "thumb")
    thumb.write_bytes(thumb.read_bytes()[:-5])  # truncated
    storage.blob_path(owner.pk, second.id, "preview").unlink()  # row without file
    stray = storage.photo_dir(owner.pk, second.id) / "face-0.spv"  # file without row
    stray.write_bytes(b"\x89SPV")
    temporary = storage.photo_dir(owner.pk, second.id) / ".thumb-0.spv.x1.tmp"
    temporary.write_bytes(b"half")
    with pytest.raises(CommandError, match="4 problem"):
        check()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("vault_check", stdout=out)
    report = out.getvalue()
    assert f"damaged file: thumb-0 of photo {first.id}" in report
    assert f"missing file: preview-0 of photo {second.id}" in report
    assert f"orphan file (no row): {stray}" in report
    assert f"half-written temporary (no row): {temporary}" in report


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
