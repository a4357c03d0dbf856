"""Removing a member and leaving: access ends at once, the album key changes (rotation), and
the removed member's keys — from the database plus their own password — open nothing added
afterwards (a crypto-level attack test). A rotation killed half-way leaves the old key whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from tests.albums.conftest import MEMBER_PASSWORD, keyring_for
from tests.users import OTHER_PASSWORD, PASSWORD
from vault.albums import keys, services
from vault.albums.models import Album, AlbumKeyWrap, AlbumMember, AlbumPhoto
from vault.crypto import DecryptionError, album_keys, hpke_wrap
from vault.photos import blobs
from vault.photos.models import Blob

pytestmark = pytest.mark.django_db


def _share(owner, album, member, role="viewer"):
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role=role
    )


def test_removal_ends_access_at_once_and_the_page_says_what_stays(
    owner_client, album, member, member_client, owner_photos
):
    _share(album.owner, album, member)
    url = reverse("albums:thumb", args=[album.id, owner_photos[0].id])
    assert member_client.get(url).status_code == 200
    row = AlbumMember.objects.get(album=album, user=member)
    confirm = owner_client.post(reverse("albums:member_remove", args=[album.id, row.pk]))
    assert "stay with them" in confirm.content.decode()
    done = owner_client.post(
        reverse("albums:member_remove", args=[album.id, row.pk]), {"confirm": "yes"}, follow=True
    )
    assert "stay with them" in done.content.decode()
    assert member_client.get(url).status_code == 404
    assert member_client.get(reverse("albums:detail", args=[album.id])).status_code == 404
    album.refresh_from_db()
    assert album.key_version == 2
    assert not AlbumKeyWrap.objects.filter(album=album, version=1).exists()
    # Everyone left still opens everything under the new key.
    ak = keys.album_key_open(album, keyring_for(album.owner, PASSWORD))
    for entry in AlbumPhoto.objects.filter(album=album):
        assert entry.key_version == 2
        keys.entry_data_key(entry, ak)
    assert owner_client.get(url).status_code == 200


def test_a_removed_members_keys_open_nothing_added_afterwards(
    owner, owner_client, album, member, owner_photos
):
    """The attacker: the removed member, with a dump of every album row and their password,
    and the old album key they unwrapped (and kept) while they were a member."""
    _share(owner, album, member)
    theirs = keyring_for(member, MEMBER_PASSWORD)
    old_ak = keys.album_key_open(album, theirs)
    services.album_member_remove(
        album=album,
        keyring=keyring_for(owner, PASSWORD),
        member=AlbumMember.objects.get(album=album, user=member),
    )
    album.refresh_from_db()
    services.album_photos_add(
        album=album,
        keyring=keyring_for(owner, PASSWORD),
        user=owner,
        photo_ids=[owner_photos[2].id],
    )
    later = AlbumPhoto.objects.get(album=album, photo=owner_photos[2])

    # Every AK wrap in the database: none opens with their private key, under any binding.
    for wrap in AlbumKeyWrap.objects.all():
        for version in (1, 2, 3):
            with pytest.raises(DecryptionError):
                album_keys.album_key_unwrap(
                    wrap.wrapped_key,
                    theirs.private_key,
                    album_id=album.id,
                    member_id=member.pk,
                    version=version,
                )
            info = album_keys.member_info(
                album_id=album.id, member_id=wrap.user_id, version=version
            )
            with pytest.raises(DecryptionError):
                hpke_wrap.unwrap(bytes(wrap.wrapped_key), theirs.private_key, info)
    # Every entry of the new version, the photo added afterwards first: the old AK opens no DK,
    # no name and no album name, under either version's binding.
    for entry in AlbumPhoto.objects.filter(album=album):
        assert entry.key_version == 2
        for version in (1, 2):
            with pytest.raises(DecryptionError):
                album_keys.data_key_unwrap(
                    old_ak,
                    entry.wrapped_data_key,
                    album_id=album.id,
                    photo_id=entry.photo_id,
                    version=version,
                )
    assert keys.entry_name(later, old_ak) == f"photo-{later.photo_id}"  # the fallback: unread
    assert keys.album_text(album, old_ak, "name") == ""
    # And the photo's blobs do not open with their private key either (owner stanza only).
    blob = Blob.objects.select_related("photo").get(photo=owner_photos[2], variant="original")
    with pytest.raises(DecryptionError):
        blobs.blob_open(blob, private_key=theirs.private_key)


def test_leaving_ends_access_and_the_key_changes_before_anything_is_added(
    owner, owner_client, album, member, member_client, owner_photos
):
    _share(owner, album, member)
    theirs = keyring_for(member, MEMBER_PASSWORD)
    old_ak = keys.album_key_open(album, theirs)
    member_client.post(reverse("albums:leave", args=[album.id]), {"confirm": "yes"})
    assert not AlbumMember.objects.filter(album=album, user=member).exists()
    assert member_client.get(reverse("albums:detail", args=[album.id])).status_code == 404
    album.refresh_from_db()
    assert album.rotation_due
    # The owner's next signed-in visit rotates.
    owner_client.get(reverse("photos:gallery"))
    album.refresh_from_db()
    assert album.key_version == 2 and not album.rotation_due
    for entry in AlbumPhoto.objects.filter(album=album):
        with pytest.raises(DecryptionError):
            keys.entry_data_key(entry, old_ak)


def test_an_addition_after_a_leave_rotates_first(owner, album, member, owner_photos):
    _share(owner, album, member)
    services.album_leave(album=album, user=member)
    album.refresh_from_db()
    services.album_photos_add(
        album=album,
        keyring=keyring_for(owner, PASSWORD),
        user=owner,
        photo_ids=[owner_photos[2].id],
    )
    album.refresh_from_db()
    assert album.key_version == 2
    assert AlbumPhoto.objects.get(album=album, photo=owner_photos[2]).key_version == 2


ROTATE_AND_HANG = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from vault.accounts.models import User
    from vault.albums import services
    from vault.albums.models import Album, AlbumMember, AlbumPhoto
    from tests.albums.conftest import keyring_for
    from tests.users import OTHER_PASSWORD, PASSWORD

    real = AlbumPhoto.objects.bulk_update
    def bulk_update_then_hang(*args, **kwargs):
        real(*args, **kwargs)
        print("MIDWAY", flush=True)  # the new DK wraps are written, not yet committed
        time.sleep(600)
    AlbumPhoto.objects.bulk_update = bulk_update_then_hang
    album = Album.objects.get(pk=sys.argv[1])
    owner = album.owner
    member = AlbumMember.objects.get(album=album, user__email=sys.argv[2])
    services.album_member_remove(album=album, keyring=keyring_for(owner, PASSWORD), member=member)
    """
)


@pytest.mark.django_db(transaction=True)
def test_a_rotation_killed_half_way_leaves_everyone_the_old_access(
    owner, album, member, other_user, owner_photos, vault_services
):
    _share(owner, album, member)
    _share(owner, album, other_user)
    env = dict(
        os.environ,
        DATABASE_URL=vault_services.database_url(connection.settings_dict["NAME"]),
        REDIS_URL=vault_services.redis_url,
        VAULT_DATA_DIR=str(settings.VAULT_DATA_DIR),
        DJANGO_SETTINGS_MODULE="vault.settings",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", ROTATE_AND_HANG, str(album.id), member.email],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        lines = []
        for line in process.stdout:  # blocks until the child prints; ends if it dies
            lines.append(line)
            if line.startswith("MIDWAY"):
                break
        assert lines and lines[-1].startswith("MIDWAY"), "".join(lines)[-3000:]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # PostgreSQL ends the killed session's transaction; wait until it has.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%%'"
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    album = Album.objects.get(pk=album.pk)
    assert album.key_version == 1
    assert AlbumMember.objects.filter(album=album).count() == 3  # the removal did not happen
    for user, password in (
        (owner, PASSWORD),
        (member, MEMBER_PASSWORD),
        (other_user, OTHER_PASSWORD),
    ):
        ak = keys.album_key_open(album, keyring_for(user, password))
        for entry in AlbumPhoto.objects.filter(album=album):
            assert entry.key_version == 1
            keys.entry_data_key(entry, ak)
    # The owner can then remove the member for real.
    services.album_member_remove(
        album=album,
        keyring=keyring_for(owner, PASSWORD),
        member=AlbumMember.objects.get(album=album, user=member),
    )
    assert Album.objects.get(pk=album.pk).key_version == 2
    for user, password in ((owner, PASSWORD), (other_user, OTHER_PASSWORD)):
        ak = keys.album_key_open(Album.objects.get(pk=album.pk), keyring_for(user, password))
        for entry in AlbumPhoto.objects.filter(album=album):
            keys.entry_data_key(entry, ak)


@pytest.mark.parametrize("how", ["removed", "left"])
def test_a_member_who_goes_takes_their_own_photos_out_of_the_album(
    owner, album, member, member_client, owner_photos, worker_key, how
):
    from tests.albums.conftest import upload_ready
    from tests.photos import support

    _share(owner, album, member, role="contributor")
    [theirs] = upload_ready(member_client, ("mine.jpg", support.jpeg(support.picture(seed=12))))
    services.album_photos_add(
        album=album,
        keyring=keyring_for(member, MEMBER_PASSWORD),
        user=member,
        photo_ids=[theirs.id],
    )
    Album.objects.filter(pk=album.pk).update(cover=theirs)
    if how == "removed":
        services.album_member_remove(
            album=album,
            keyring=keyring_for(owner, PASSWORD),
            member=AlbumMember.objects.get(album=album, user=member),
        )
    else:
        services.album_leave(album=album, user=member)
    assert not AlbumPhoto.objects.filter(photo=theirs).exists()
    assert AlbumPhoto.objects.filter(album=album).count() == 2  # the owner's stay
    assert Album.objects.get(pk=album.pk).cover_id is None
