"""The session keyring (DESIGN §4): the user's unwrapped keys, split between server and browser.

After the second factor, UMK ‖ sk_U is sealed under a fresh 32-byte key. The ciphertext goes
into the server-side session; the key goes only into an HttpOnly cookie. Neither half alone
decrypts anything, and logout or session expiry throws the ciphertext away.

A *pending* keyring carries the keys unwrapped at the password step across the one request to
the second-factor step, in the same split form, under its own cookie and with a short expiry;
it is never usable by views and is replaced by the real keyring once the second factor passes.
"""

from __future__ import annotations

import base64
import secrets
import struct
import time
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from vault.crypto import DecryptionError, keys, seal

MAIN = "keyring"
PENDING = "keyring_pending"
COOKIES = {MAIN: "vault_keyring", PENDING: "vault_keyring_pending"}
PENDING_LIFETIME = 15 * 60  # seconds: enough to fetch an emailed code


@dataclass(frozen=True)
class Keyring:
    user_id: int
    umk: bytes
    private_key: bytes

    @cached_property
    def public_key(self) -> bytes:
        return keys.public_from_private(self.private_key)

    @cached_property
    def metadata_key(self) -> bytes:
        return keys.metadata_key(self.umk)

    def __repr__(self) -> str:  # never let keys reach a log line or a traceback
        return f"Keyring(user_id={self.user_id})"


def _aad(slot: str, user_id: int, expires: int) -> bytes:
    return b"spv/v1/keyring|" + slot.encode() + struct.pack(">QQ", user_id, expires)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


def _queue_cookie(request, slot: str, value: str | None) -> None:
    """KeyringMiddleware writes (or deletes, for None) the cookie on the response."""
    if not hasattr(request, "_keyring_cookies"):
        request._keyring_cookies = {}
    request._keyring_cookies[COOKIES[slot]] = value


def _install(request, slot: str, *, user_id: int, umk: bytes, private_key: bytes, expires: int):
    cookie_key = secrets.token_bytes(32)
    sealed = seal.seal(cookie_key, umk + private_key, _aad(slot, user_id, expires))
    request.session[slot] = {"user": user_id, "expires": expires, "sealed": _b64(sealed)}
    _queue_cookie(request, slot, _b64(cookie_key))
    request.__dict__.pop("_keyring", None)


def _open(request, slot: str) -> Keyring | None:
    entry = request.session.get(slot)
    cookie = request.COOKIES.get(COOKIES[slot])
    if not entry or not cookie:
        return None
    if entry["expires"] and entry["expires"] < time.time():
        return None
    try:
        plain = seal.open(
            _unb64(cookie), _unb64(entry["sealed"]), _aad(slot, entry["user"], entry["expires"])
        )
    except (DecryptionError, ValueError, TypeError):
        return None
    return Keyring(user_id=entry["user"], umk=plain[:32], private_key=plain[32:])


def keyring_install(request, *, user_id: int, umk: bytes, private_key: bytes) -> None:
    """Call right after login(): the session key has been cycled, so the keyring is fresh too."""
    _drop(request, PENDING)
    _install(request, MAIN, user_id=user_id, umk=umk, private_key=private_key, expires=0)


def request_keyring(request) -> Keyring | None:
    """The signed-in user's keys, or None when the keyring is missing, stale or not theirs."""
    if "_keyring" not in request.__dict__:
        ring = _open(request, MAIN)
        user = getattr(request, "user", None)
        if ring is not None and (
            user is None or not user.is_authenticated or ring.user_id != user.pk
        ):
            ring = None
        request._keyring = ring
    return request._keyring


def pending_keyring_stash(request, *, user_id: int, umk: bytes, private_key: bytes) -> None:
    expires = int(time.time()) + PENDING_LIFETIME
    _install(request, PENDING, user_id=user_id, umk=umk, private_key=private_key, expires=expires)


def pending_keyring_peek(request, *, user_id: int) -> Keyring | None:
    """Open the pending keyring of `user_id` without removing it (sign-up's reissue step)."""
    ring = _open(request, PENDING)
    return ring if ring is not None and ring.user_id == user_id else None


def pending_keyring_user(request) -> int | None:
    """Whose password opened the pending keyring (None: none, expired or unreadable)."""
    ring = _open(request, PENDING)
    return ring.user_id if ring is not None else None


def pending_keyring_take(request, *, user_id: int) -> Keyring | None:
    """Open and remove the pending keyring of `user_id` (None if absent, expired or another's)."""
    ring = _open(request, PENDING)
    _drop(request, PENDING)
    if ring is None or ring.user_id != user_id:
        return None
    return ring


def _drop(request, slot: str) -> None:
    if hasattr(request, "session"):
        request.session.pop(slot, None)
    if COOKIES[slot] in request.COOKIES:
        _queue_cookie(request, slot, None)


def keyring_destroy(request) -> None:
    """Forget both halves: the sealed keys in the session and the cookie key in the browser."""
    _drop(request, MAIN)
    _drop(request, PENDING)
    request._keyring = None


class KeyringMiddleware:
    """Writes the keyring cookies queued during the request onto the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in getattr(request, "_keyring_cookies", {}).items():
            if value is None:
                response.delete_cookie(name, samesite="Lax")
            else:
                response.set_cookie(
                    name,
                    value,
                    httponly=True,
                    # Secure behind HTTPS; plain-HTTP development on localhost must still work.
                    secure=settings.VAULT_HTTPS or request.is_secure(),
                    samesite="Lax",
                )
        return response
