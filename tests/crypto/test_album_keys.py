"""Album keys (docs/sharing.md) at the crypto level: every wrap and seal opens only under its
own (album, member or photo, field, version); a key of one version opens nothing of another."""

from __future__ import annotations

import pytest

from vault.crypto import DecryptionError, album_keys, keys

ALBUM, OTHER_ALBUM = "album-1", "album-2"


def test_a_members_wrap_opens_only_for_that_member_album_and_version():
    ak = album_keys.new_album_key()
    sk, pk = keys.new_keypair()
    other_sk, _ = keys.new_keypair()
    wrapped = album_keys.album_key_wrap(ak, pk, album_id=ALBUM, member_id=7, version=3)
    assert album_keys.album_key_unwrap(wrapped, sk, album_id=ALBUM, member_id=7, version=3) == ak
    for private, album, member, version in (
        (other_sk, ALBUM, 7, 3),
        (sk, OTHER_ALBUM, 7, 3),
        (sk, ALBUM, 8, 3),
        (sk, ALBUM, 7, 2),
        (sk, ALBUM, 7, 4),
    ):
        with pytest.raises(DecryptionError):
            album_keys.album_key_unwrap(
                wrapped, private, album_id=album, member_id=member, version=version
            )


def test_a_data_key_opens_only_under_its_album_key_photo_and_version():
    ak, next_ak, dk = (album_keys.new_album_key() for _ in range(3))
    wrapped = album_keys.data_key_wrap(ak, dk, album_id=ALBUM, photo_id="p1", version=1)
    assert album_keys.data_key_unwrap(ak, wrapped, album_id=ALBUM, photo_id="p1", version=1) == dk
    for key, album, photo, version in (
        (next_ak, ALBUM, "p1", 1),
        (ak, OTHER_ALBUM, "p1", 1),
        (ak, ALBUM, "p2", 1),
        (ak, ALBUM, "p1", 2),
    ):
        with pytest.raises(DecryptionError):
            album_keys.data_key_unwrap(
                key, wrapped, album_id=album, photo_id=photo, version=version
            )
    # After a rotation, the old key opens nothing sealed for the new version.
    rewrapped = album_keys.data_key_wrap(next_ak, dk, album_id=ALBUM, photo_id="p1", version=2)
    for version in (1, 2):
        with pytest.raises(DecryptionError):
            album_keys.data_key_unwrap(
                ak, rewrapped, album_id=ALBUM, photo_id="p1", version=version
            )


def test_sealed_fields_do_not_move_between_fields_rows_or_versions():
    ak = album_keys.new_album_key()
    sealed = album_keys.field_seal(
        ak, b"Holiday", album_id=ALBUM, row_id="album", field="name", version=1
    )
    opened = album_keys.field_open(
        ak, sealed, album_id=ALBUM, row_id="album", field="name", version=1
    )
    assert opened == b"Holiday"
    for row, field, version in (
        ("album", "description", 1),
        ("p1", "name", 1),
        ("album", "name", 2),
    ):
        with pytest.raises(DecryptionError):
            album_keys.field_open(
                ak, sealed, album_id=ALBUM, row_id=row, field=field, version=version
            )


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0])
def test_a_version_is_a_positive_int(version):
    with pytest.raises(ValueError):
        album_keys.member_info(album_id=ALBUM, member_id=1, version=version)
