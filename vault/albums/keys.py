"""Opening an album's key and the keys and fields sealed under it: the one place that pairs the
album rows with vault.crypto.album_keys."""

from __future__ import annotations

import json

from vault.accounts.keyring import Keyring
from vault.albums.models import Album, AlbumKeyWrap, AlbumPhoto
from vault.crypto import DecryptionError, album_keys


class AlbumKeyUnavailable(Exception):
    """This user holds no wrap of the album's current key (not a member, or removed)."""


def album_key_from_wrap(album: Album, wrapped: bytes | None, keyring: Keyring) -> bytes:
    """AK from this user's wrap of the album's current version, already fetched (None: no
    wrap). Raises AlbumKeyUnavailable when it is missing or does not open."""
    if wrapped is None:
        raise AlbumKeyUnavailable()
    try:
        return album_keys.album_key_unwrap(
            wrapped,
            keyring.private_key,
            album_id=album.id,
            member_id=keyring.user_id,
            version=album.key_version,
        )
    except DecryptionError:
        raise AlbumKeyUnavailable() from None


def album_key_open(album: Album, keyring: Keyring) -> bytes:
    """AK of the album's current version, unwrapped with the signed-in user's private key.
    Raises AlbumKeyUnavailable when the user has no wrap or it does not open."""
    wrapped = (
        AlbumKeyWrap.objects.filter(album=album, user_id=keyring.user_id, version=album.key_version)
        .values_list("wrapped_key", flat=True)
        .first()
    )
    return album_key_from_wrap(album, wrapped, keyring)


def album_keys_open(albums, keyring: Keyring) -> dict:
    """{album id: AK} for every album whose current-version wrap of this user opens; one query
    for all the wraps (the pickers and lists show many albums at once)."""
    wanted = {album.id: album for album in albums}
    wraps = AlbumKeyWrap.objects.filter(album_id__in=wanted, user_id=keyring.user_id)
    opened = {}
    for wrap in wraps:
        album = wanted[wrap.album_id]
        if wrap.version != album.key_version:
            continue
        try:
            opened[album.id] = album_keys.album_key_unwrap(
                wrap.wrapped_key,
                keyring.private_key,
                album_id=album.id,
                member_id=keyring.user_id,
                version=album.key_version,
            )
        except DecryptionError:
            continue
    return opened


def wrap_for(ak: bytes, *, album: Album, user_id: int, public_key: bytes, version: int):
    return AlbumKeyWrap(
        album=album,
        user_id=user_id,
        version=version,
        wrapped_key=album_keys.album_key_wrap(
            ak, bytes(public_key), album_id=album.id, member_id=user_id, version=version
        ),
    )


def album_text(album: Album, ak: bytes, field: str) -> str:
    """The album's name or description ("name"/"description"); "" if it does not open."""
    sealed = getattr(album, f"{field}_sealed")
    try:
        return album_keys.field_open(
            ak, sealed, album_id=album.id, row_id="album", field=field, version=album.key_version
        ).decode()
    except DecryptionError:
        return ""


def seal_album_text(ak: bytes, text: str, *, album_id, field: str, version: int) -> bytes:
    return album_keys.field_seal(
        ak, text.encode(), album_id=album_id, row_id="album", field=field, version=version
    )


def entry_data_key(entry: AlbumPhoto, ak: bytes) -> bytes:
    """The photo's DK from its album entry (DecryptionError if it does not open)."""
    return album_keys.data_key_unwrap(
        ak,
        entry.wrapped_data_key,
        album_id=entry.album_id,
        photo_id=entry.photo_id,
        version=entry.key_version,
    )


def entry_name(entry: AlbumPhoto, ak: bytes) -> str:
    try:
        return album_keys.field_open(
            ak,
            entry.name_sealed,
            album_id=entry.album_id,
            row_id=entry.photo_id,
            field="name",
            version=entry.key_version,
        ).decode()
    except DecryptionError:
        return f"photo-{entry.photo_id}"


def entry_place(entry: AlbumPhoto, ak: bytes) -> dict:
    """{"latitude", "longitude"} when the owner shared the place, else {}."""
    if not entry.place_sealed:
        return {}
    try:
        return json.loads(
            album_keys.field_open(
                ak,
                entry.place_sealed,
                album_id=entry.album_id,
                row_id=entry.photo_id,
                field="place",
                version=entry.key_version,
            )
        )
    except (DecryptionError, ValueError):
        return {}


def seal_entry_fields(
    ak: bytes, *, album_id, photo_id, version: int, dk: bytes, name: str, place: dict | None
) -> dict:
    """The sealed columns of an AlbumPhoto at `version`."""
    common = {"album_id": album_id, "version": version}
    return {
        "key_version": version,
        "wrapped_data_key": album_keys.data_key_wrap(ak, dk, photo_id=photo_id, **common),
        "name_sealed": album_keys.field_seal(
            ak, name.encode(), row_id=photo_id, field="name", **common
        ),
        "place_sealed": album_keys.field_seal(
            ak, json.dumps(place).encode(), row_id=photo_id, field="place", **common
        )
        if place
        else None,
    }
