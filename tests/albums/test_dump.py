"""A stolen database dump after an album was shared holds no album name or description, no
shared file name, no album key and no data key in the clear: pg_dump of the real test
database, searched for each secret as text, as the hex a bytea column shows, and as base64."""

from __future__ import annotations

import base64

import pytest

from tests.albums.conftest import ALBUM_DESCRIPTION, ALBUM_NAME, keyring_for
from tests.dump import database_dump
from tests.users import PASSWORD
from vault.albums import keys, services
from vault.albums.models import AlbumPhoto
from vault.photos import blobs


def _forms(secret: bytes) -> list[str]:
    return [secret.hex(), base64.b64encode(secret).decode(), secret.decode("latin-1")]


@pytest.mark.django_db(transaction=True)
def test_a_dump_after_sharing_holds_no_album_name_file_name_album_key_or_data_key(
    owner, member, album, owner_photos
):
    ring = keyring_for(owner, PASSWORD)
    services.album_member_add(album=album, keyring=ring, email=member.email, role="contributor")
    ak = keys.album_key_open(album, ring)
    data_keys = [
        blobs.original_data_key(entry.photo, private_key=ring.private_key)
        for entry in AlbumPhoto.objects.select_related("photo").filter(album=album)
    ]
    assert len(data_keys) == 2

    dump = database_dump()
    assert "albums_albumkeywrap" in dump and str(album.id) in dump  # the dump is the real one
    for text in (ALBUM_NAME, ALBUM_DESCRIPTION, "beach.jpg", "lake.jpg"):
        assert text not in dump and text.encode().hex() not in dump
    for secret in (ak, *data_keys):
        for form in _forms(secret):
            assert form not in dump
        assert secret[:16].hex() not in dump  # not even half of one
