"""Save to my library: a member's own copy of a shared photo, under their own keys, processed
like an upload; it stays when the share ends."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import MEMBER_PASSWORD, keyring_for, run_jobs
from tests.photos import support
from tests.users import PASSWORD
from vault.albums import services
from vault.albums.models import AlbumMember
from vault.crypto import DecryptionError
from vault.photos import blobs
from vault.photos.models import Blob, Photo

pytestmark = pytest.mark.django_db


def test_a_member_saves_a_copy_that_is_theirs_and_stays_after_removal(
    owner, album, member, member_client, owner_photos, worker_key
):
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="viewer"
    )
    shared = owner_photos[0]
    page = member_client.get(reverse("albums:photo", args=[album.id, shared.id])).content.decode()
    assert "Save to my library" in page
    response = member_client.post(reverse("albums:save", args=[album.id, shared.id]), follow=True)
    assert "Saved to your library" in response.content.decode()
    [copy] = Photo.objects.filter(owner=member)
    assert copy.id != shared.id
    assert run_jobs() == ["ready"]  # processed like an upload: thumbnails, tags, faces
    copy.refresh_from_db()
    assert copy.state == "ready" and copy.blobs.filter(variant="thumb").exists()
    # Their keys, not the owner's: the copy's blobs open with the member's private key only.
    original = Blob.objects.select_related("photo").get(photo=copy, variant="original")
    with blobs.blob_open(
        original, private_key=keyring_for(member, MEMBER_PASSWORD).private_key
    ) as r:
        assert r.read_all() == support.jpeg(support.picture(seed=1))
    with pytest.raises(DecryptionError):
        blobs.blob_open(original, private_key=keyring_for(owner, PASSWORD).private_key)

    again = member_client.post(reverse("albums:save", args=[album.id, shared.id]), follow=True)
    assert "already in your library" in again.content.decode()
    assert Photo.objects.filter(owner=member).count() == 1

    services.album_member_remove(
        album=album,
        keyring=keyring_for(owner, PASSWORD),
        member=AlbumMember.objects.get(album=album, user=member),
    )
    download = member_client.get(reverse("photos:download", args=[copy.id]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == support.jpeg(support.picture(seed=1))
    assert 'filename="beach.jpg"' in download["Content-Disposition"]
