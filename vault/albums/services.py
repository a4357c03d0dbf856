"""Services that change albums: create, edit, delete, add and remove photos, members and roles,
and the key rotation that follows a removal (docs/sharing.md). Callers check who may act;
each service runs in one transaction."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.dispatch import Signal
from django.urls import reverse

from vault.accounts.keyring import Keyring
from vault.accounts.models import User, UserKeys
from vault.albums import keys
from vault.albums.models import Album, AlbumKeyWrap, AlbumMember, AlbumPhoto
from vault.crypto import album_keys
from vault.photos import blobs
from vault.photos import selectors as photo_selectors
from vault.photos.models import Photo

log = logging.getLogger(__name__)

NAME_LIMIT = 200
DESCRIPTION_LIMIT = 2000


# member_photos_taken_out.send(sender=Album, album=..., user_id=..., photo_ids=[...]) inside the
# transaction that takes a leaving or removed member's photos out of the album: the links app
# takes them out of every link made from it (albums never imports links, DESIGN §3).
member_photos_taken_out = Signal()


class AlbumError(Exception):
    """A request that cannot be done, with a message for the user."""


def album_create(*, owner: User, keyring: Keyring, name: str, description: str = "") -> Album:
    """A new album with a fresh AK (version 1) wrapped to its owner."""
    ak = album_keys.new_album_key()
    with transaction.atomic():
        album = Album(owner=owner, key_version=1)
        album.name_sealed = keys.seal_album_text(
            ak, name[:NAME_LIMIT], album_id=album.id, field="name", version=1
        )
        album.description_sealed = keys.seal_album_text(
            ak, description[:DESCRIPTION_LIMIT], album_id=album.id, field="description", version=1
        )
        album.save()
        AlbumMember.objects.create(album=album, user=owner, role=AlbumMember.Role.OWNER)
        keys.wrap_for(
            ak, album=album, user_id=owner.pk, public_key=owner.keys.public_key, version=1
        ).save()
    log.info("user %s created album %s", owner.pk, album.id)
    return album


def album_edit(
    *, album: Album, keyring: Keyring, name: str, description: str, include_locations: bool
) -> None:
    with transaction.atomic():
        album = Album.objects.select_for_update().get(pk=album.pk)
        ak = keys.album_key_open(album, keyring)
        version = album.key_version
        album.name_sealed = keys.seal_album_text(
            ak, name[:NAME_LIMIT], album_id=album.id, field="name", version=version
        )
        album.description_sealed = keys.seal_album_text(
            ak,
            description[:DESCRIPTION_LIMIT],
            album_id=album.id,
            field="description",
            version=version,
        )
        turned_off = album.include_locations and not include_locations
        album.include_locations = include_locations
        album.save(update_fields=["name_sealed", "description_sealed", "include_locations"])
        if turned_off:  # the places leave at once; turning it on applies to photos added later
            album.entries.update(place_sealed=None)


def album_delete(*, album: Album) -> None:
    """The album, its members, wraps and entries go; the photos stay with their owners."""
    album_id = album.pk
    album.delete()
    log.info("album %s deleted", album_id)


def _shared_place(photo: Photo, keyring: Keyring, album: Album) -> dict | None:
    if not album.include_locations:
        return None
    exif = photo_selectors.photo_private_exif(photo, keyring)
    if exif.get("latitude") is None or exif.get("longitude") is None:
        return None
    return {"latitude": exif["latitude"], "longitude": exif["longitude"]}


def _locked_current(album: Album, keyring: Keyring) -> Album:
    """The album row locked for this transaction, its key rotated first if a member left
    (so nothing is ever sealed under a key a former member held)."""
    album = Album.objects.select_for_update().get(pk=album.pk)
    if album.rotation_due:
        album_key_rotate(album=album, keyring=keyring)
        album = Album.objects.select_for_update().get(pk=album.pk)
    return album


def album_photos_add(*, album: Album, keyring: Keyring, user: User, photo_ids) -> int:
    """Add the user's own photos (not in the trash) to the album; return how many were new.
    Each photo's DK comes from its original's owner stanza, unwrapped with the user's key, and
    is sealed under AK with its name (and place, if the album shares places)."""
    photos = list(Photo.objects.filter(owner=user, id__in=photo_ids, trashed_at__isnull=True))
    added = 0
    with transaction.atomic():
        album = _locked_current(album, keyring)
        ak = keys.album_key_open(album, keyring)
        present = set(
            AlbumPhoto.objects.filter(album=album, photo__in=photos).values_list(
                "photo_id", flat=True
            )
        )
        for photo in photos:
            if photo.id in present:
                continue
            dk = blobs.original_data_key(photo, private_key=keyring.private_key)
            sealed = keys.seal_entry_fields(
                ak,
                album_id=album.id,
                photo_id=photo.id,
                version=album.key_version,
                dk=dk,
                name=photo_selectors.photo_original_name(photo, keyring),
                place=_shared_place(photo, keyring, album),
            )
            AlbumPhoto.objects.create(album=album, photo=photo, added_by=user, **sealed)
            added += 1
        if album.cover_id is None and photos:
            album.cover = photos[0]
            album.save(update_fields=["cover"])
    return added


def album_photos_remove(*, album: Album, photo_ids, only_added_by: User | None = None) -> int:
    """Take photos out of the album (they stay in their owners' libraries). With
    `only_added_by`, only the photos that user added."""
    entries = AlbumPhoto.objects.filter(album=album, photo_id__in=photo_ids)
    if only_added_by is not None:
        entries = entries.filter(added_by=only_added_by)
    with transaction.atomic():
        removed = list(entries.values_list("photo_id", flat=True))
        entries.delete()
        if album.cover_id in removed:
            Album.objects.filter(pk=album.pk).update(cover=None)
    return len(removed)


def album_cover_set(*, album: Album, photo_id) -> None:
    if not AlbumPhoto.objects.filter(album=album, photo_id=photo_id).exists():
        raise AlbumError("That photo is not in this album.")
    Album.objects.filter(pk=album.pk).update(cover_id=photo_id)


def album_member_add(
    *, album: Album, keyring: Keyring, email: str, role: str, link: str | None = None
) -> AlbumMember:
    """Share the album with another user of this vault: AK wrapped to their public key. The
    new member is emailed once the row is committed. AlbumError for an unknown email, the
    owner, or someone already a member. `link`: the album's address for the email (the
    view's absolute URL; a path when none is given)."""
    if role not in (AlbumMember.Role.VIEWER, AlbumMember.Role.CONTRIBUTOR):
        raise AlbumError("Choose viewer or contributor.")
    member = User.objects.filter(email__iexact=email.strip()).first()
    member_keys = UserKeys.objects.filter(user=member).first() if member else None
    if member is None or member_keys is None:
        raise AlbumError("No user of this vault has that email address.")
    with transaction.atomic():
        album = _locked_current(album, keyring)
        if AlbumMember.objects.filter(album=album, user=member).exists():
            raise AlbumError("They are already a member of this album.")
        ak = keys.album_key_open(album, keyring)
        row = AlbumMember.objects.create(album=album, user=member, role=role)
        keys.wrap_for(
            ak,
            album=album,
            user_id=member.pk,
            public_key=member_keys.public_key,
            version=album.key_version,
        ).save()
        link = link or reverse("albums:detail", args=[album.id])
        transaction.on_commit(lambda: _email_new_member(album, member, role, link))
    log.info("album %s shared with user %s as %s", album.id, member.pk, role)
    return row


def _email_new_member(album: Album, member: User, role: str, link: str) -> None:
    """The album's name stays out of the email: it is sealed in the vault and mail leaves it
    in the clear (SMTP relays, the member's mailbox)."""
    body = (
        f"{album.owner.name} shared an album with you as {role}.\n\n"
        f"Sign in to your vault and open Albums, \u201cShared with me\u201d:\n{link}\n"
    )
    send_mail("An album was shared with you", body, None, [member.email])


def album_member_role_set(*, album: Album, member: AlbumMember, role: str) -> None:
    if role not in (AlbumMember.Role.VIEWER, AlbumMember.Role.CONTRIBUTOR):
        raise AlbumError("Choose viewer or contributor.")
    if member.role == AlbumMember.Role.OWNER:
        raise AlbumError("The owner's role cannot change.")
    if album.kind == Album.Kind.PARTNER:
        raise AlbumError("The partner share's partner stays a viewer.")
    AlbumMember.objects.filter(pk=member.pk).update(role=role)


def album_member_remove(*, album: Album, keyring: Keyring, member: AlbumMember) -> None:
    """The owner removes a member: their membership and wraps go, and AK changes (rotation),
    all in one transaction."""
    if member.role == AlbumMember.Role.OWNER:
        raise AlbumError("The owner cannot be removed.")
    if album.kind == Album.Kind.PARTNER:  # its one partner goes: the share ends
        album_delete(album=album)
        return
    with transaction.atomic():
        AlbumKeyWrap.objects.filter(album=album, user_id=member.user_id).delete()
        AlbumMember.objects.filter(pk=member.pk).delete()
        _take_out_their_photos(album, member.user_id)
        album_key_rotate(album=album, keyring=keyring)
    log.info("user %s removed from album %s", member.user_id, album.id)


def _take_out_their_photos(album: Album, user_id) -> None:
    """A member who goes takes their own photos with them (their DK wraps are deleted): they
    shared them with the album's members, not with whoever stays after they left."""
    theirs = AlbumPhoto.objects.filter(album=album, photo__owner_id=user_id)
    photo_ids = list(theirs.values_list("photo_id", flat=True))
    Album.objects.filter(pk=album.pk, cover__in=photo_ids).update(cover=None)
    theirs.delete()
    member_photos_taken_out.send(sender=Album, album=album, user_id=user_id, photo_ids=photo_ids)


def album_leave(*, album: Album, user: User) -> None:
    """A member leaves: their wraps and membership go at once. The leaver must not choose the
    next AK, so the rotation waits for the owner's next signed-in visit or the next addition
    (`rotation_due`), whichever comes first; nothing is added under the old key meanwhile."""
    if album.kind == Album.Kind.PARTNER:  # its one partner left: the share ends
        album_delete(album=album)
        log.info("user %s left the partner share %s", user.pk, album.id)
        return
    with transaction.atomic():
        AlbumKeyWrap.objects.filter(album=album, user=user).delete()
        AlbumMember.objects.filter(album=album, user=user).exclude(
            role=AlbumMember.Role.OWNER
        ).delete()
        _take_out_their_photos(album, user.pk)
        Album.objects.filter(pk=album.pk).update(rotation_due=True)
    log.info("user %s left album %s", user.pk, album.id)


def album_key_rotate(*, album: Album, keyring: Keyring) -> None:
    """AK version n → n+1, in one transaction: a fresh AK wrapped to every remaining member,
    every entry's DK, name and place and the album's name and description sealed again under
    it, and every wrap of version n deleted. `keyring` must open version n (owner or member).
    A crash anywhere rolls back to version n intact."""
    with transaction.atomic():
        album = Album.objects.select_for_update().get(pk=album.pk)
        old_ak = keys.album_key_open(album, keyring)
        old, new = album.key_version, album.key_version + 1
        new_ak = album_keys.new_album_key()
        name = keys.album_text(album, old_ak, "name")
        description = keys.album_text(album, old_ak, "description")
        entries = list(AlbumPhoto.objects.filter(album=album))
        for entry in entries:
            dk = keys.entry_data_key(entry, old_ak)
            sealed = keys.seal_entry_fields(
                new_ak,
                album_id=album.id,
                photo_id=entry.photo_id,
                version=new,
                dk=dk,
                name=keys.entry_name(entry, old_ak),
                place=keys.entry_place(entry, old_ak) or None,
            )
            for field, value in sealed.items():
                setattr(entry, field, value)
        AlbumPhoto.objects.bulk_update(
            entries,
            ["key_version", "wrapped_data_key", "name_sealed", "place_sealed"],
            batch_size=500,
        )
        members = AlbumMember.objects.filter(album=album).values_list(
            "user_id", "user__keys__public_key"
        )
        AlbumKeyWrap.objects.bulk_create(
            [
                keys.wrap_for(new_ak, album=album, user_id=uid, public_key=pk, version=new)
                for uid, pk in members
                if pk is not None
            ]
        )
        AlbumKeyWrap.objects.filter(album=album, version__lte=old).delete()
        album.key_version = new
        album.rotation_due = False
        album.name_sealed = keys.seal_album_text(
            new_ak, name, album_id=album.id, field="name", version=new
        )
        album.description_sealed = keys.seal_album_text(
            new_ak, description, album_id=album.id, field="description", version=new
        )
        album.save(
            update_fields=["key_version", "rotation_due", "name_sealed", "description_sealed"]
        )
    log.info("album %s key rotated to version %d (%d photos)", album.id, new, len(entries))
