"""A MOV that a real worker is still processing when its still arrives (the pair becomes one
Live item and the MOV's own item is deleted): whatever the worker writes for the deleted item
afterwards (frames' thumbnails, the HEVC rendition) leaves no object behind in the blob store,
and `manage.py vault_check` finds no orphan."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.objectstore import s3_bucket  # noqa: F401 - a fixture
from tests.photos.test_live_photos import _send
from tests.users import PASSWORD
from vault.blobstore import get_store
from vault.photos import storage
from vault.photos.models import LiveCandidate, Photo
from vaultdev.pytest_plugin import wait_until
from vaultdev.samples.live_photos import live_mov, live_still
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _store(store_kind, request, settings) -> None:
    """A store of this test's own: vault_check must see only what this test wrote."""
    from tests.objectstore import s3_settings

    if store_kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        s3_settings(settings, bucket, request.getfixturevalue("seaweed"))
    else:
        settings.VAULT_BLOB_STORE = "local"


@pytest.mark.parametrize(("held_after", "store_kind"), [("thumbnails", "local"), ("faces", "s3")])
def test_pairing_a_mov_the_worker_is_processing_leaves_no_orphan(
    owner, start_worker, tmp_path, held_after, store_kind, request, settings
):
    _store(store_kind, request, settings)
    hold = tmp_path / "hold"
    hold.write_text(held_after)
    worker = start_worker(VAULT_PIPELINE_HOLD_FILE=str(hold))
    client = Client()
    sign_in(client, owner, PASSWORD)
    cid = str(uuid.uuid4()).upper()
    batch = uuid.uuid4().hex  # one upload batch, two requests (as the upload page sends them)
    [mov] = _send(client, ("IMG_7001.MOV", live_mov(cid, seconds=1.0)), batch=batch)
    wait_until(lambda: f"held after {held_after}" in worker.output(), timeout=180)
    assert Photo.objects.get(pk=mov["photo"]).state == "processing"

    [still] = _send(
        client, ("IMG_7001.JPG", live_still(cid)), batch=batch
    )  # pairs: the MOV's item goes
    assert still["photo"] != mov["photo"]
    assert not Photo.objects.filter(pk=mov["photo"]).exists()
    hold.unlink()  # the worker goes on with the deleted item's remaining steps

    # One worker, one job at a time: the Live item is ready only after the MOV's job ended.
    wait_until(lambda: Photo.objects.get(pk=still["photo"]).state == "ready", timeout=180)
    assert LiveCandidate.objects.get(photo_id=still["photo"]).merged_from is not None
    prefix = storage.photo_prefix(owner.pk, mov["photo"])
    assert list(get_store().list(prefix)) == [], "the deleted MOV's objects were left behind"
    out = io.StringIO()
    try:
        call_command("vault_check", stdout=out)
    except CommandError as error:
        pytest.fail(f"{error}\n{out.getvalue()}")
    assert "orphan object" not in out.getvalue() and "no orphans" in out.getvalue(), out.getvalue()


@pytest.mark.parametrize("store_kind", ["local", "s3"])
def test_a_blob_written_for_a_photo_deleted_meanwhile_is_removed(
    owner, owner_client, store_kind, request, settings
):
    """The blob layer every worker write goes through (thumbnails, motion, rendition rows): a
    photo deleted after its job loaded it gets no object and no row, in either store; the job
    learns it (PhotoGone) and stops."""
    from tests.people.faces_support import keyring_of
    from tests.photos import support
    from tests.photos.uploads import upload
    from vault.photos import blobs, services

    _store(store_kind, request, settings)
    [row] = upload(owner_client, ("IMG_7002.JPG", support.jpeg(support.picture(seed=4))))
    photo = Photo.objects.get(pk=row["photo"])  # what a job holds while it works
    keyring = keyring_of(owner, PASSWORD)
    data_key = blobs.original_data_key(photo, private_key=keyring.private_key)
    services.photos_delete(user=owner, photo_ids=[photo.id])  # the owner deletes it meanwhile
    prefix = storage.photo_prefix(owner.pk, photo.id)
    assert list(get_store().list(prefix)) == []
    with pytest.raises(blobs.PhotoGone):
        blobs.blob_write(
            photo=photo,
            variant="thumb",
            data=b"a thumbnail's bytes",
            data_key=data_key,
            owner_public_key=keyring.public_key,
            media_type="image/jpeg",
        )
    assert list(get_store().list(prefix)) == [], "the write for the deleted photo was left"
