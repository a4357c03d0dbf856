"""Key material and wraps: UMK, X25519, metadata key, recovery key, password KEK, HPKE, sealing."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.crypto import (
    Argon2Params,
    DecryptionError,
    RecoveryKeyFormatError,
    hpke_wrap,
    keys,
    password,
    recovery,
    seal,
)
from vault.crypto.recovery import ALPHABET

FAST = Argon2Params.FOR_TESTS


# --- keys -----------------------------------------------------------------------------------


def test_keypair_and_public_from_private(owner):
    sk, pk = owner
    assert len(sk) == len(pk) == 32
    assert keys.public_from_private(sk) == pk


def test_master_keys_are_random_and_subkeys_are_separated():
    umk = keys.new_master_key()
    assert len(umk) == 32 and umk != keys.new_master_key()
    assert keys.metadata_key(umk) == keys.metadata_key(umk)
    assert keys.metadata_key(umk) not in (umk, keys.metadata_key(keys.new_master_key()))


def test_private_key_wrap(owner):
    umk = keys.new_master_key()
    blob = keys.wrap_private_key(umk, owner[0])
    assert keys.unwrap_private_key(umk, blob) == owner[0]
    assert keys.wrap_private_key(umk, owner[0]) != blob
    with pytest.raises(DecryptionError):
        keys.unwrap_private_key(keys.new_master_key(), blob)
    # A wrap of the private key is not a metadata seal, even under the same UMK.
    with pytest.raises(DecryptionError):
        seal.open(keys.metadata_key(umk), blob, b"spv/v1/x25519-private-key")


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "x" * 32])
def test_wrong_length_keys_are_programming_errors(bad):
    with pytest.raises((ValueError, TypeError)):
        keys.metadata_key(bad)


# --- recovery key ---------------------------------------------------------------------------


def test_recovery_key_format_round_trip():
    rk = recovery.new_recovery_key()
    text = recovery.format_recovery_key(rk)
    groups = text.split("-")
    assert len(groups) == recovery.GROUPS == 14 and all(len(g) == 4 for g in groups)
    assert recovery.parse_recovery_key(text) == rk
    assert recovery.parse_recovery_key(f"  {text.lower().replace('-', ' ')}\n") == rk
    assert recovery.parse_recovery_key(text.replace("-", "")) == rk


def test_recovery_key_reads_confusable_letters():
    rk = recovery.new_recovery_key()
    text = recovery.format_recovery_key(rk)
    assert recovery.parse_recovery_key(text.replace("0", "O").replace("1", "l")) == rk


@settings(max_examples=60, deadline=None)
@given(rk=st.binary(min_size=32, max_size=32), pos=st.integers(0, 55), data=st.data())
def test_any_single_typo_is_caught_and_located(rk, pos, data):
    chars = recovery.format_recovery_key(rk).replace("-", "")
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != chars[pos]]))
    typo = chars[:pos] + wrong + chars[pos + 1 :]
    with pytest.raises(RecoveryKeyFormatError, match=rf"group {pos // 4 + 1}\b"):
        recovery.parse_recovery_key(typo)


def test_swapped_neighbours_are_caught():
    rk = bytes(range(32))
    chars = recovery.format_recovery_key(rk).replace("-", "")
    pos = next(i for i in range(55) if chars[i] != chars[i + 1])
    swapped = chars[:pos] + chars[pos + 1] + chars[pos] + chars[pos + 2 :]
    with pytest.raises(RecoveryKeyFormatError, match="typo"):
        recovery.parse_recovery_key(swapped)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ABCD-EFGH", "56 characters"),
        ("", "56 characters"),
        ("U" * 56, "group 1"),
        ("A" * 20 + "!" + "A" * 35, "group 6"),
        ("A" * 10_000, "longer"),
    ],
)
def test_malformed_recovery_keys(text, message):
    with pytest.raises(RecoveryKeyFormatError, match=message):
        recovery.parse_recovery_key(text)


def test_typo_is_caught_before_any_cryptography(monkeypatch):
    rk = recovery.new_recovery_key()
    text = recovery.format_recovery_key(rk)
    monkeypatch.setattr(recovery, "hkdf", lambda *a, **k: pytest.fail("crypto ran"))
    with pytest.raises(RecoveryKeyFormatError):
        recovery.parse_recovery_key(("7" if text[0] != "7" else "8") + text[1:])


def test_recovery_wrap():
    umk, rk = keys.new_master_key(), recovery.new_recovery_key()
    blob = recovery.wrap_master_key(umk, rk)
    assert recovery.unwrap_master_key(blob, rk) == umk
    typed = recovery.parse_recovery_key(recovery.format_recovery_key(rk))
    assert recovery.unwrap_master_key(blob, typed) == umk
    with pytest.raises(DecryptionError):
        recovery.unwrap_master_key(blob, recovery.new_recovery_key())
    # A validly formatted key that is someone else's fails as a decryption, not a typo.
    other = recovery.parse_recovery_key(recovery.format_recovery_key(recovery.new_recovery_key()))
    with pytest.raises(DecryptionError):
        recovery.unwrap_master_key(blob, other)


# --- password -------------------------------------------------------------------------------


def test_default_params_meet_the_floor():
    default = Argon2Params.DEFAULT
    assert default.memory_kib >= 64 * 1024 and default.iterations >= 3
    assert password.wrap_master_key.__kwdefaults__["params"] is default


def test_password_wrap_round_trip_and_wrong_password():
    umk = keys.new_master_key()
    blob = password.wrap_master_key(umk, "hunter2 but longer", params=FAST)
    assert password.unwrap_master_key(blob, "hunter2 but longer") == umk
    assert password.blob_params(blob) == FAST
    for wrong in ("hunter2 but longer ", "Hunter2 but longer", ""):
        with pytest.raises(DecryptionError):
            password.unwrap_master_key(blob, wrong)


def test_unicode_passwords_are_normalised():
    umk = keys.new_master_key()
    blob = password.wrap_master_key(umk, "caf\u00e9", params=FAST)  # precomposed é
    assert password.unwrap_master_key(blob, "cafe\u0301") == umk  # e + combining accent


def test_pepper(tmp_path):
    umk = keys.new_master_key()
    pepper_file = tmp_path / "pepper"
    pepper_file.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    pepper = password.load_pepper(pepper_file)
    assert pepper == b"0123456789abcdef0123456789abcdef"
    blob = password.wrap_master_key(umk, "pw", params=FAST, pepper=pepper)
    assert password.unwrap_master_key(blob, "pw", pepper=pepper) == umk
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(blob, "pw")
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(blob, "pw", pepper=b"another pepper of enough length")
    # A wrap from before the pepper was configured still opens, and asks to be re-wrapped.
    old = password.wrap_master_key(umk, "pw", params=FAST)
    assert password.unwrap_master_key(old, "pw", pepper=pepper) == umk
    assert password.needs_rewrap(old, params=FAST, pepper=pepper)
    assert not password.needs_rewrap(blob, params=FAST, pepper=pepper)


def test_load_pepper_refuses_missing_or_short_files(tmp_path):
    assert password.load_pepper(None) is None
    assert password.load_pepper("") is None
    with pytest.raises(FileNotFoundError):
        password.load_pepper(tmp_path / "absent")
    (tmp_path / "short").write_bytes(b"tiny")
    with pytest.raises(ValueError):
        password.load_pepper(tmp_path / "short")


def test_params_can_be_raised_later():
    umk = keys.new_master_key()
    old = password.wrap_master_key(umk, "pw", params=FAST)
    stronger = Argon2Params(memory_kib=FAST.memory_kib * 2, iterations=2, lanes=1)
    assert password.needs_rewrap(old, params=stronger)
    new = password.wrap_master_key(password.unwrap_master_key(old, "pw"), "pw", params=stronger)
    assert password.unwrap_master_key(new, "pw") == umk
    assert not password.needs_rewrap(new, params=stronger)


def _with_params(blob: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    return (
        blob[:2]
        + memory_kib.to_bytes(4, "big")
        + iterations.to_bytes(4, "big")
        + bytes([lanes])
        + blob[11:]
    )


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "lanes"),
    [(2**32 - 1, 3, 1), (password.MAX_MEMORY_KIB + 1, 3, 1), (65536, 2**32 - 1, 1),
     (65536, 0, 1), (65536, 3, 0), (65536, 3, 255), (7, 3, 1)],
)  # fmt: skip
def test_absurd_params_from_a_tampered_blob_are_refused_before_argon2(
    monkeypatch, memory_kib, iterations, lanes
):
    blob = password.wrap_master_key(keys.new_master_key(), "pw", params=FAST)
    monkeypatch.setattr(password, "Argon2id", lambda **kw: pytest.fail("Argon2 ran"))
    started = time.perf_counter()
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(_with_params(blob, memory_kib, iterations, lanes), "pw")
    assert time.perf_counter() - started < 0.1


def test_lowered_params_in_a_tampered_blob_fail_authentication():
    blob = password.wrap_master_key(keys.new_master_key(), "pw", params=FAST)
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(_with_params(blob, 64, 1, 1), "pw")


@pytest.mark.parametrize(
    "mutate", [lambda b: b[:-1], lambda b: b + b"\0", lambda b: b"\x02" + b[1:]]
)
def test_malformed_password_blobs(mutate):
    blob = password.wrap_master_key(keys.new_master_key(), "pw", params=FAST)
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(mutate(blob), "pw")


# --- HPKE -----------------------------------------------------------------------------------


def test_hpke_round_trip_and_binding(owner, stranger):
    sk, pk = owner
    secret = keys.new_master_key()
    info = hpke_wrap.grant_info(
        grant_id="g1", user_id="u1", photo_id="p1", expires_at=1_700_000_000
    )
    blob = hpke_wrap.wrap(secret, pk, info)
    assert len(blob) == 80
    assert hpke_wrap.unwrap(blob, sk, info) == secret
    assert hpke_wrap.wrap(secret, pk, info) != blob
    with pytest.raises(DecryptionError):
        hpke_wrap.unwrap(blob, stranger[0], info)
    for other in (
        dict(grant_id="g2", user_id="u1", photo_id="p1", expires_at=1_700_000_000),
        dict(grant_id="g1", user_id="u2", photo_id="p1", expires_at=1_700_000_000),
        dict(grant_id="g1", user_id="u1", photo_id="p2", expires_at=1_700_000_000),
        dict(grant_id="g1", user_id="u1", photo_id="p1", expires_at=1_700_000_001),
        dict(grant_id="g1", user_id="u1", photo_id="p1", expires_at=1_700_000_000,
             purpose="metadata-key"),
    ):  # fmt: skip
        with pytest.raises(DecryptionError):
            hpke_wrap.unwrap(blob, sk, hpke_wrap.grant_info(**other))


def test_hpke_rejects_malformed_blobs(owner):
    sk, pk = owner
    blob = hpke_wrap.wrap(b"k" * 32, pk, b"i")
    for bad in (b"", blob[:47], bytes(32) + blob[32:], blob[:-1], b"\0" * 10_000):
        with pytest.raises(DecryptionError):
            hpke_wrap.unwrap(bad, sk, b"i")


def test_grant_info_is_canonical():
    a = hpke_wrap.grant_info(grant_id="ab", user_id="c", photo_id="p", expires_at=1)
    b = hpke_wrap.grant_info(grant_id="a", user_id="bc", photo_id="p", expires_at=1)
    assert a != b
    with pytest.raises(ValueError):
        hpke_wrap.grant_info(grant_id="g", user_id="u", photo_id="p", expires_at=-1)


# --- sealing --------------------------------------------------------------------------------


def test_seal_round_trip_and_row_binding():
    mk = keys.metadata_key(keys.new_master_key())
    aad = seal.row_aad("people_person", "42", "name")
    sealed = seal.seal(mk, b"Grandma Ada", aad)
    assert seal.open(mk, sealed, aad) == b"Grandma Ada"
    assert seal.seal(mk, b"Grandma Ada", aad) != sealed
    for other in (
        seal.row_aad("people_person", "43", "name"),
        seal.row_aad("people_person", "42", "note"),
        seal.row_aad("photos_photo", "42", "name"),
    ):
        with pytest.raises(DecryptionError):
            seal.open(mk, sealed, other)
    with pytest.raises(DecryptionError):
        seal.open(keys.metadata_key(keys.new_master_key()), sealed, aad)


@given(plaintext=st.binary(max_size=4096))
@settings(max_examples=30, deadline=None)
def test_seal_any_size(plaintext):
    key = bytes(32)
    assert seal.open(key, seal.seal(key, plaintext, b"a"), b"a") == plaintext


def test_seal_tampering():
    key, aad = keys.new_master_key(), b"aad"
    sealed = seal.seal(key, b"embedding bytes", aad)
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 1
        with pytest.raises(DecryptionError):
            seal.open(key, bytes(tampered), aad)
    for bad in (b"", sealed[:40], sealed[:-1]):
        with pytest.raises(DecryptionError):
            seal.open(key, bad, aad)


def test_seal_randomness_never_repeats():
    key = keys.new_master_key()
    seen = {seal.seal(key, b"", b"")[1:25] for _ in range(2000)}
    assert len(seen) == 2000
