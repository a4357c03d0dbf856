"""Share links on the server side (docs/links.md): what a request with and without the token
gets, that the server's answers are ciphertext and wraps that only the fragment's key opens,
revoke and expiry at once, password throttling, and strangers."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from tests.links.support import create, token_header
from vault.crypto import DecryptionError, container, link_keys
from vault.links.models import Link, LinkPhoto
from vault.photos import storage

pytestmark = pytest.mark.django_db


def _open_thumb(manifest_photo: dict, lk: bytes, link_id: str, blob: bytes, tmp_path) -> bytes:
    """What the visitor's page does, in Python: KL from LK, DK from its wrap, the blob."""
    kl = link_keys.wrapping_key(lk)
    dk = link_keys.data_key_unwrap(
        kl, base64.b64decode(manifest_photo["dk"]), link_id=link_id, photo_id=manifest_photo["id"]
    )
    path = tmp_path / "thumb.spv"
    path.write_bytes(blob)
    ctx = storage.blob_context(int(manifest_photo["owner"]), manifest_photo["id"], "thumb")
    with container.BlobReader(path, context=ctx, data_key=dk) as reader:
        return reader.read_all()


def test_album_link_serves_ciphertext_that_only_the_fragment_key_opens(
    owner_client, album, owner_photos, tmp_path
):
    _url, link_id, lk = create(owner_client, album=album)
    visitor = Client()
    # The path alone (what the server sees of the URL) opens nothing.
    assert visitor.get(f"/l/{link_id}/manifest").status_code == 410
    page = visitor.get(f"/l/{link_id}")
    assert page.status_code == 200
    assert "blob:" in page["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    wrong = {"HTTP_X_LINK_TOKEN": base64.urlsafe_b64encode(bytes(32)).rstrip(b"=").decode()}
    assert visitor.get(f"/l/{link_id}/manifest", **wrong).status_code == 410

    manifest = visitor.get(f"/l/{link_id}/manifest", **token_header(lk)).json()
    ids = [p["id"] for p in manifest["photos"]]
    assert sorted(ids) == sorted(str(p.id) for p in owner_photos[:2])
    first = manifest["photos"][0]
    blob = visitor.get(f"/l/{link_id}/blob/{first['id']}/thumb", **token_header(lk))
    assert blob.status_code == 200
    stored = b"".join(blob.streaming_content)
    assert stored.startswith(b"\x89SPV")  # the file as stored: ciphertext, never a JPEG
    assert stored == storage.blob_path(album.owner_id, first["id"], "thumb").read_bytes()
    Image.open(io.BytesIO(_open_thumb(first, lk, link_id, stored, tmp_path))).verify()
    # Another key does not open the wraps.
    with pytest.raises(DecryptionError):
        _open_thumb(first, bytes(32), link_id, stored, tmp_path)
    # Neither the key nor its wrapping key is stored; the token only as its hash.
    row = Link.objects.get(pk=link_id)
    assert bytes(row.token_hash) == link_keys.token_hash(link_keys.access_token(lk))
    assert row.open_count == 1


def test_selection_link_reveals_no_other_photo_count_album_or_owner_email(
    owner_client, owner, album, owner_photos
):
    _url, link_id, lk = create(owner_client, photos=[owner_photos[2]])
    visitor = Client()
    manifest = visitor.get(f"/l/{link_id}/manifest", **token_header(lk))
    text = manifest.content.decode()
    assert [p["id"] for p in manifest.json()["photos"]] == [str(owner_photos[2].id)]
    for other in owner_photos[:2]:
        assert str(other.id) not in text
        response = visitor.get(f"/l/{link_id}/blob/{other.id}/thumb", **token_header(lk))
        assert response.status_code == 404
    assert owner.email not in text
    assert str(album.id) not in text
    page = visitor.get(f"/l/{link_id}").content.decode()
    assert owner.email not in page and owner.name not in page


def test_original_only_when_downloads_are_allowed(owner_client, owner_photos):
    _, no_dl, lk1 = create(owner_client, photos=owner_photos[:1])
    _, dl, lk2 = create(owner_client, photos=owner_photos[:1], allow_downloads="on")
    visitor = Client()
    pid = owner_photos[0].id
    assert visitor.get(f"/l/{no_dl}/blob/{pid}/original", **token_header(lk1)).status_code == 404
    manifest = visitor.get(f"/l/{no_dl}/manifest", **token_header(lk1)).json()
    assert "original" not in manifest["photos"][0]["variants"]
    assert visitor.get(f"/l/{dl}/blob/{pid}/original", **token_header(lk2)).status_code == 200


def test_revoke_and_expiry_take_effect_on_the_next_request(owner_client, owner_photos):
    _, link_id, lk = create(owner_client, photos=owner_photos[:2])
    visitor = Client()
    pid = owner_photos[0].id
    assert visitor.get(f"/l/{link_id}/manifest", **token_header(lk)).status_code == 200
    assert owner_client.post(f"/links/{link_id}/revoke").status_code == 302
    for path in ("", "/manifest", f"/blob/{pid}/thumb"):
        response = visitor.get(f"/l/{link_id}{path}", **token_header(lk))
        assert response.status_code == 410, path
    assert "This link no longer works" in visitor.get(f"/l/{link_id}").content.decode()
    assert not LinkPhoto.objects.filter(link_id=link_id).exists()  # the wraps are gone too

    _, link2, lk2 = create(owner_client, photos=owner_photos[:1], expiry="day")
    assert visitor.get(f"/l/{link2}/manifest", **token_header(lk2)).status_code == 200
    Link.objects.filter(pk=link2).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert visitor.get(f"/l/{link2}/manifest", **token_header(lk2)).status_code == 410
    assert visitor.get(f"/l/{link2}").status_code == 410


def test_unknown_and_mangled_links_get_the_same_page(db):
    visitor = Client()
    for path in ("/l/00000000-0000-0000-0000-000000000000", "/l/not-a-link", "/l/x/y/z"):
        response = visitor.get(path)
        assert response.status_code == 410, path
        assert "This link no longer works" in response.content.decode()


def test_password_is_required_checked_and_throttled(owner_client, owner_photos, settings):
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 3
    _, link_id, lk = create(owner_client, photos=owner_photos[:1], password="grandma 1942")
    visitor = Client()
    headers = token_header(lk)
    assert visitor.get(f"/l/{link_id}/manifest", **headers).json() == {"password": True}
    pid = owner_photos[0].id
    assert visitor.get(f"/l/{link_id}/blob/{pid}/thumb", **headers).status_code == 403
    wrong = visitor.post(f"/l/{link_id}/unlock", {"password": "nope"}, **headers)
    assert wrong.status_code == 403 and wrong.json()["error"] == "That password is not right."
    right = visitor.post(f"/l/{link_id}/unlock", {"password": "grandma 1942"}, **headers).json()
    pass_header = {"HTTP_X_LINK_PASS": right["pass"], **headers}
    assert visitor.get(f"/l/{link_id}/manifest", **pass_header).status_code == 200
    assert visitor.get(f"/l/{link_id}/blob/{pid}/thumb", **pass_header).status_code == 200
    for _ in range(3):
        visitor.post(f"/l/{link_id}/unlock", {"password": "nope"}, **headers)
    locked = visitor.post(f"/l/{link_id}/unlock", {"password": "grandma 1942"}, **headers)
    assert locked.status_code == 429 and "Try again in" in locked.json()["error"]
    # Without the token, the password alone opens nothing.
    assert visitor.post(f"/l/{link_id}/unlock", {"password": "grandma 1942"}).status_code == 410


def test_owner_list_shows_open_counts(owner_client, owner_photos):
    _, link_id, lk = create(owner_client, photos=owner_photos[:1])
    for _ in range(2):
        Client().get(f"/l/{link_id}/manifest", **token_header(lk))
    page = owner_client.get("/links/").content.decode()
    assert '<td class="link-opens">2</td>' in page
    assert "Revoke" in page


def test_strangers_cannot_list_create_or_revoke_anothers_links(
    owner_client, other_client, album, owner_photos
):
    _, link_id, _lk = create(owner_client, album=album)
    assert link_id not in other_client.get("/links/").content.decode()
    assert other_client.post(f"/links/{link_id}/revoke").status_code == 404
    assert Link.objects.get(pk=link_id).revoked_at is None
    assert other_client.get(f"/links/new?album={album.id}").status_code == 404
    response = other_client.post(
        "/links/new", {"expiry": "week", "photo": [str(owner_photos[0].id)]}
    )
    assert response.status_code == 302  # nothing of theirs to share: no link made
    assert Link.objects.count() == 1
    anonymous = Client()
    assert anonymous.get("/links/").status_code == 302
    assert anonymous.post(f"/links/{link_id}/revoke").status_code == 302
    assert Link.objects.get(pk=link_id).revoked_at is None


def test_a_photo_moved_to_the_trash_leaves_the_link(owner_client, owner_photos):
    _, link_id, lk = create(owner_client, photos=owner_photos[:2])
    from vault.photos.trash import photos_trash

    photos_trash(user=owner_photos[0].owner, photo_ids=[owner_photos[0].id])
    manifest = Client().get(f"/l/{link_id}/manifest", **token_header(lk)).json()
    assert [p["id"] for p in manifest["photos"]] == [str(owner_photos[1].id)]


def test_share_link_from_the_gallery_select_mode(owner_client, album, owner_photos):
    gallery = owner_client.get("/photos/").content.decode()
    assert 'formaction="/links/new"' in gallery
    # Select mode posts the photo ids (and its "Add to album" picker's album, which must not
    # turn the selection into an album link).
    ids = [str(owner_photos[2].id)]
    form = owner_client.post("/links/new", {"photo": ids, "album": str(album.id)})
    assert form.status_code == 200
    page = form.content.decode()
    assert f'name="photo" value="{ids[0]}"' in page and "link_album" not in page
    assert "Access control only" in page
    _url, link_id, lk = create(owner_client, photos=[owner_photos[2]])
    manifest = Client().get(f"/l/{link_id}/manifest", **token_header(lk)).json()
    assert [p["id"] for p in manifest["photos"]] == ids
    assert Link.objects.get(pk=link_id).album_id is None


def test_include_locations_off_sends_no_place_and_on_sends_the_sealed_place(
    owner_client, owner, owner_photos
):
    import json

    from tests.albums.conftest import keyring_for
    from tests.users import PASSWORD
    from vault.crypto import seal
    from vault.photos.sealing import exif_aad

    ring = keyring_for(owner, PASSWORD)
    photo = owner_photos[0]
    where = {"latitude": 46.52, "longitude": 6.63}
    exif = json.dumps({**where, "camera_model": "X100"}).encode()
    photo.exif_sealed = seal.seal(ring.metadata_key, exif, exif_aad(photo.id))
    photo.save(update_fields=["exif_sealed"])

    _, off, lk_off = create(owner_client, photos=[photo])
    _, on, lk_on = create(owner_client, photos=[photo], include_locations="on")
    visitor = Client()
    hidden = visitor.get(f"/l/{off}/manifest", **token_header(lk_off))
    assert hidden.json()["photos"][0]["place"] is None
    assert "46.52" not in hidden.content.decode()
    shown = visitor.get(f"/l/{on}/manifest", **token_header(lk_on)).json()["photos"][0]
    sealed = base64.b64decode(shown["place"])
    place = link_keys.field_open(
        link_keys.wrapping_key(lk_on), sealed, link_id=on, photo_id=photo.id, field="place"
    )
    assert json.loads(place) == where
    # The sealed place only opens under this link's key.
    with pytest.raises(DecryptionError):
        link_keys.field_open(
            link_keys.wrapping_key(lk_off), sealed, link_id=on, photo_id=photo.id, field="place"
        )
