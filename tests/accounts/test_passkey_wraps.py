"""The passkey wrap of the master key (vault.crypto.passkey, DESIGN §13)."""

import os

import pytest

from vault.crypto import DecryptionError, keys, passkey, password, recovery

CRED = os.urandom(48)


def _wrap(umk, prf):
    salt = passkey.new_salt()
    return salt, passkey.wrap_master_key(umk, prf_output=prf, salt=salt, credential_id=CRED)


def test_the_right_prf_output_opens_the_master_key():
    umk, prf = keys.new_master_key(), os.urandom(32)
    salt, blob = _wrap(umk, prf)
    assert passkey.unwrap_master_key(blob, prf_output=prf, salt=salt, credential_id=CRED) == umk
    assert umk not in blob and prf not in blob


@pytest.mark.parametrize(
    "change",
    ["prf", "short prf", "empty prf", "salt", "credential", "tampered blob", "truncated blob"],
)
def test_anything_else_fails_closed_with_one_error_type(change):
    umk, prf = keys.new_master_key(), os.urandom(32)
    salt, blob = _wrap(umk, prf)
    args = {"prf_output": prf, "salt": salt, "credential_id": CRED}
    if change == "prf":
        args["prf_output"] = bytes([prf[0] ^ 1]) + prf[1:]
    elif change == "short prf":
        args["prf_output"] = prf[:16]
    elif change == "empty prf":
        args["prf_output"] = b""
    elif change == "salt":
        args["salt"] = passkey.new_salt()
    elif change == "credential":
        args["credential_id"] = os.urandom(48)
    elif change == "tampered blob":
        blob = blob[:-1] + bytes([blob[-1] ^ 1])
    else:
        blob = blob[:10]
    with pytest.raises(DecryptionError) as caught:
        passkey.unwrap_master_key(blob, **args)
    assert str(caught.value) == DecryptionError.GENERIC_MESSAGE


def test_the_salt_and_the_wrap_alone_open_nothing():
    """What the database holds (salt, wrap, credential id) without the authenticator's secret."""
    umk = keys.new_master_key()
    salt, blob = _wrap(umk, os.urandom(32))
    for guess in (salt, b"\0" * 32, CRED[:32], os.urandom(32)):
        with pytest.raises(DecryptionError):
            passkey.unwrap_master_key(blob, prf_output=guess, salt=salt, credential_id=CRED)


def test_one_wrap_per_credential_beside_the_password_and_recovery_wraps():
    """A password change and a recovery re-wrap the same UMK: the passkey wrap keeps opening it,
    and the recovery key opens it when every passkey wrap is gone."""
    umk, prf_a, prf_b = keys.new_master_key(), os.urandom(32), os.urandom(32)
    salt_a, wrap_a = _wrap(umk, prf_a)
    salt_b, wrap_b = _wrap(umk, prf_b)
    assert wrap_a != wrap_b
    params = password.Argon2Params.FOR_TESTS
    new_password_wrap = password.wrap_master_key(umk, "a new long password", params=params)
    rk = recovery.new_recovery_key()
    recovery_wrap = recovery.wrap_master_key(umk, rk)

    assert password.unwrap_master_key(new_password_wrap, "a new long password") == umk
    assert (
        passkey.unwrap_master_key(wrap_a, prf_output=prf_a, salt=salt_a, credential_id=CRED) == umk
    )
    # Removing passkey A leaves nothing that A's secret opens; B and the recovery key still work.
    del wrap_a
    assert (
        passkey.unwrap_master_key(wrap_b, prf_output=prf_b, salt=salt_b, credential_id=CRED) == umk
    )
    assert recovery.unwrap_master_key(recovery_wrap, rk) == umk
    with pytest.raises(DecryptionError):
        passkey.unwrap_master_key(wrap_b, prf_output=prf_a, salt=salt_b, credential_id=CRED)
