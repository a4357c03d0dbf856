"""Uploading: files are encrypted as they stream in, bad files are turned away one by one with
a reason, the good files of a batch land, duplicates are found by a keyed hash."""

import os
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Blob, Photo

pytestmark = pytest.mark.django_db


def files_under(directory: Path) -> list[Path]:
    return (
        sorted(p for p in Path(directory).rglob("*") if p.is_file()) if directory.exists() else []
    )


def test_a_mixed_batch_lands_its_good_files_and_explains_each_bad_one(
    owner_client, owner, settings, data_dir
):
    settings.VAULT_MAX_UPLOAD_BYTES = 1024 * 1024
    big = support.png(support.picture(1800, 1400, seed=9))
    assert len(big) > settings.VAULT_MAX_UPLOAD_BYTES
    whole = support.jpeg()
    outcomes = upload(
        owner_client,
        ("good.jpg", whole),
        ("notes.jpg", b"Shopping list: milk, eggs\n" * 50),
        ("cut.jpg", whole[: len(whole) // 2]),
        ("empty.jpg", b""),
        ("bomb.png", support.pixel_bomb_png()),
        ("huge.png", big),
        ("good.png", support.png(support.picture(seed=2))),
    )
    by_name = {o["name"]: o for o in outcomes}
    assert [o["name"] for o in outcomes] == [
        "good.jpg",
        "notes.jpg",
        "cut.jpg",
        "empty.jpg",
        "bomb.png",
        "huge.png",
        "good.png",
    ]
    assert by_name["good.jpg"]["status"] == by_name["good.png"]["status"] == "stored"
    assert "not JPEG, HEIC, PNG or WebP" in by_name["notes.jpg"]["message"]
    assert "incomplete" in by_name["cut.jpg"]["message"]
    assert "empty" in by_name["empty.jpg"]["message"]
    assert "megapixels" in by_name["bomb.png"]["message"]
    assert "1 MB limit" in by_name["huge.png"]["message"]
    for name in ("notes.jpg", "cut.jpg", "empty.jpg", "bomb.png", "huge.png"):
        assert by_name[name]["status"] == "rejected"

    stored = Photo.objects.filter(owner=owner)
    assert {str(p.id) for p in stored} == {
        by_name["good.jpg"]["photo"],
        by_name["good.png"]["photo"],
    }
    # Only the two originals are on disk: nothing half-written, no empty folders of the refused.
    assert [p.name for p in files_under(data_dir)] == ["original-0.spv", "original-0.spv"]
    assert len(list((data_dir / "blobs" / str(owner.pk)).iterdir())) == 2
    assert set(Photo.objects.values_list("state", flat=True)) == {"pending"}


def test_stored_original_is_ciphertext_and_decrypts_to_the_upload(owner_client, owner, data_dir):
    from vault.accounts.services import keys_unlock_with_password
    from vault.photos.blobs import blob_open

    data = support.real_photo("rocket.jpg")
    [outcome] = upload(owner_client, ("rocket.jpg", data))
    [path] = files_under(data_dir)
    assert path.read_bytes()[:4] == b"\x89SPV"
    assert data[:2000] not in path.read_bytes()
    blob = Blob.objects.get(photo_id=outcome["photo"], variant="original")
    keys = keys_unlock_with_password(owner, PASSWORD)
    with blob_open(blob, private_key=keys.private_key) as reader:
        assert reader.read_all() == data
    assert blob.size == len(data)


def test_the_same_photo_twice_is_reported_as_a_duplicate_not_stored_again(owner_client, owner):
    data = support.jpeg()
    [first] = upload(owner_client, ("a.jpg", data))
    [again] = upload(owner_client, ("copy of a.jpg", data))
    assert again["status"] == "duplicate" and again["photo"] == first["photo"]
    twice = upload(owner_client, ("b.jpg", support.png()), ("b again.png", support.png()))
    assert [o["status"] for o in twice] == ["stored", "duplicate"]
    assert Photo.objects.filter(owner=owner).count() == 2


def test_duplicates_are_per_user_and_the_hash_is_keyed(owner_client, other_client, owner):
    data = support.jpeg()
    upload(owner_client, ("a.jpg", data))
    [theirs] = upload(other_client, ("a.jpg", data))
    assert theirs["status"] == "stored"
    macs = {bytes(m) for m in Photo.objects.values_list("content_mac", flat=True)}
    assert len(macs) == 2  # same bytes, different users: different keyed hashes
    import hashlib

    assert hashlib.sha256(data).digest() not in macs


def test_signed_out_upload_stores_nothing(client, data_dir):
    response = client.post(
        reverse("photos:upload"), {"photos": [SimpleUploadedFile("a.jpg", support.jpeg())]}
    )
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
    assert files_under(data_dir) == []
    assert not Photo.objects.exists()


def test_request_without_a_csrf_token_is_refused_and_keeps_nothing(owner, data_dir):
    from vaultdev.signin import sign_in

    client = Client(enforce_csrf_checks=True)
    # The sign-in pages need the token too; fetch it the way a browser would.
    client.get(reverse("accounts:login"))
    csrf = client.cookies["csrftoken"].value
    client.defaults["HTTP_X_CSRFTOKEN"] = csrf
    sign_in(client, owner, PASSWORD)
    del client.defaults["HTTP_X_CSRFTOKEN"]
    response = client.post(
        reverse("photos:upload"), {"photos": [SimpleUploadedFile("a.jpg", support.jpeg())]}
    )
    assert response.status_code == 403
    assert files_under(data_dir) == []
    assert not Photo.objects.exists()


def test_no_plaintext_reaches_any_disk(owner_client, owner, worker_key, data_dir, settings):
    """A photo carrying a random marker (in its EXIF and its name) is uploaded and processed:
    neither the marker nor any image header appears in clear in the data directory, var/ or
    the temporary directory."""
    marker = os.urandom(12).hex()
    data = support.real_photo_jpeg(
        "astronaut.png",
        description=f"marker {marker}",
        camera=("Canon", f"EOS {marker}"),
        gps=(48.8584, 2.2945),
        taken="2021:07:14 10:00:00",
    )
    assert marker.encode() in data
    before = set(Path(tempfile.gettempdir()).iterdir())
    [outcome] = upload(owner_client, (f"holiday-{marker}.jpg", data))
    assert outcome["status"] == "stored"
    assert run_jobs() == ["ready"]
    assert Photo.objects.get().state == "ready"

    places = [data_dir, settings.VAR_DIR, *(set(Path(tempfile.gettempdir()).iterdir()) - before)]
    # Needles long enough never to turn up by chance in megabytes of ciphertext: the marker,
    # the first bytes and a slice of the original, and the first bytes of each thumbnail.
    from vault.accounts.services import keys_unlock_with_password
    from vault.photos.blobs import blob_open

    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    headers = [marker.encode(), data[:12], data[len(data) // 2 : len(data) // 2 + 32]]
    for blob in Blob.objects.filter(variant__in=["thumb", "preview"]).select_related("photo"):
        with blob_open(blob, private_key=private_key) as reader:
            headers.append(reader.read_all()[:12])
    scanned = 0
    for place in places:
        for path in files_under(Path(place)) if Path(place).is_dir() else [Path(place)]:
            if not path.is_file():
                continue
            content = path.read_bytes()
            scanned += 1
            for needle in headers:
                assert needle not in content, f"{needle!r} in clear in {path}"
    assert scanned >= 3  # original, preview, thumbnail at least
    # The filename, camera and GPS are sealed in the database as well.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM photos_photo")
        row = repr(cursor.fetchall())
    assert marker not in row and "Canon" not in row and "48.85" not in row


def test_without_javascript_the_form_posts_all_files_and_lists_each_result(owner_client):
    page = owner_client.get(reverse("photos:upload"))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    response = owner_client.post(
        reverse("photos:upload"),
        {
            "photos": [
                SimpleUploadedFile("one.jpg", support.jpeg()),
                SimpleUploadedFile("two.txt", b"hello"),
            ]
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "one.jpg" in html and "Stored, encrypted." in html
    assert "two.txt" in html and "not JPEG, HEIC, PNG or WebP" in html
    empty = owner_client.post(reverse("photos:upload"), {})
    assert "No file arrived" in empty.content.decode()
