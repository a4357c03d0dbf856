"""Passkeys (WebAuthn, DESIGN §13): add, sign in with, unlock the vault with, rename, remove.

Assertions and attestations are verified by python-fido2's `Fido2Server` (origin, RP ID hash,
challenge, user presence, user verification when required, signature); this module adds what
the library leaves to the relying party:
- the challenge is single use and short-lived, kept server side in the session and taken out
  before anything is checked, so a replayed or stale response finds no challenge;
- the signature counter must grow (when the authenticator keeps one); a counter that goes back
  is refused and logged as a possibly cloned authenticator;
- a credential only signs in the account it belongs to (credential lookup, user handle, and for
  the second factor the account whose password was just entered);
- every failed attempt counts on the same throttle as wrong codes (scope "code").

The PRF output comes in the JSON the browser posts, beside (not inside) the WebAuthn response;
it is popped out before the response reaches the library, used once to derive KEK_pk and
dropped. It is never stored, logged or put in a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from fido2.server import Fido2Server
from fido2.utils import websafe_encode
from fido2.webauthn import (
    AttestedCredentialData,
    AuthenticationResponse,
    CollectedClientData,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialType,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vault.accounts import throttle
from vault.accounts.models import Passkey, User, UserKeys
from vault.crypto import DecryptionError, keys, passkey

log = logging.getLogger(__name__)

CHALLENGE_LIFETIME = 180  # seconds between asking the browser and its answer
_SESSION_KEY = "passkey_challenges"
MAX_WAITING = 5
LABEL_MAX = 64

# What the person reads: one sentence per kind of refusal, never which check failed inside.
REFUSED = "That passkey was not accepted. Try again, or sign in with your password."
STALE = "The passkey request expired or was already used. Please try again."
NO_UNLOCK = (
    "This passkey cannot unlock your vault (your browser or authenticator does not offer the "
    "PRF extension), so it works only as the second step after your password."
)


class PasskeyError(Exception):
    """A refused passkey step; str() is the message for the person."""


@dataclass(frozen=True, repr=False)
class PasskeySignIn:
    user: User
    passkey: Passkey
    umk: bytes
    private_key: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text) -> bytes:
    if not isinstance(text, str) or len(text) > 4096:
        raise PasskeyError(REFUSED)
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise PasskeyError(REFUSED) from None


def relying_party(request) -> tuple[str, str]:
    """(RP ID, origin) of this site: settings VAULT_WEBAUTHN_RP_ID / VAULT_WEBAUTHN_ORIGIN, else
    the host Django already checked against ALLOWED_HOSTS and the request's scheme."""
    host = request.get_host()
    rp_id = getattr(settings, "VAULT_WEBAUTHN_RP_ID", None) or host.rsplit(":", 1)[0]
    origin = getattr(settings, "VAULT_WEBAUTHN_ORIGIN", None) or f"{request.scheme}://{host}"
    return rp_id, origin


def _server(request) -> Fido2Server:
    rp_id, origin = relying_party(request)
    # Exactly our origin: the library's default also accepts any subdomain of the RP ID.
    return Fido2Server(
        {"id": rp_id, "name": "Secure Photo Vault"},
        verify_origin=lambda candidate: hmac.compare_digest(candidate, origin),
    )


def user_handle(user: User) -> bytes:
    """The WebAuthn user.id of `user`: 16 bytes, no email or name (it is stored on the
    authenticator), stable for the account."""
    message = b"spv/v1/webauthn-user-handle|%d" % user.pk
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()[:16]


def _challenge_store(request, *, purpose: str, state: dict, user_id: int | None) -> None:
    """Keep the challenge of one WebAuthn ceremony, keyed by itself, so that several tabs (or
    the autofill request beside the button) each keep their own; at most MAX_WAITING wait."""
    now = time.time()
    waiting = {
        key: entry
        for key, entry in request.session.get(_SESSION_KEY, {}).items()
        if entry["expires"] > now
    }
    waiting[state["challenge"]] = {
        "purpose": purpose,
        "state": dict(state),
        "user": user_id,
        "expires": now + CHALLENGE_LIFETIME,
    }
    newest = sorted(waiting.items(), key=lambda item: item[1]["expires"])[-MAX_WAITING:]
    request.session[_SESSION_KEY] = dict(newest)


def _challenge_take(request, *, purpose: str, response: dict, user_id: int | None = None) -> dict:
    """The state of the challenge that `response` answers, removed from the session whatever
    happens next (single use). Raises PasskeyError(STALE) for an unknown, spent, expired or
    other-purpose challenge."""
    try:
        client_data = CollectedClientData(_unb64(response["response"]["clientDataJSON"]))
        key = websafe_encode(client_data.challenge)
    except (KeyError, TypeError, ValueError, PasskeyError):
        raise PasskeyError(REFUSED) from None
    waiting = dict(request.session.get(_SESSION_KEY, {}))
    entry = waiting.pop(key, None)
    request.session[_SESSION_KEY] = waiting
    if (
        not entry
        or entry["purpose"] != purpose
        or entry["expires"] < time.time()
        or (user_id is not None and entry["user"] != user_id)
    ):
        raise PasskeyError(STALE)
    return entry["state"]


def _descriptor(pk: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(
        type=PublicKeyCredentialType.PUBLIC_KEY, id=bytes(pk.credential_id)
    )


def _prf_extension() -> dict:
    return {"prf": {"eval": {"first": _b64(passkey.PRF_INPUT)}}}


def _subject(request, user: User | None) -> throttle.Subject:
    email = user.email if user is not None else "(unknown passkey)"
    return throttle.Subject.for_request(request, scope="code", email=email)


def _check_not_locked(request, user: User | None) -> None:
    wait = throttle.seconds_locked(_subject(request, user))
    if wait:
        raise PasskeyError(throttle.wait_message(wait))


def _fail(request, user: User | None, message: str = REFUSED) -> PasskeyError:
    throttle.record_failure(_subject(request, user))
    return PasskeyError(message)


# Selectors ------------------------------------------------------------------------------------


def passkeys_of(user: User) -> list[Passkey]:
    return list(Passkey.objects.filter(user=user).order_by("created_at", "pk"))


# Adding a passkey ---------------------------------------------------------------------------


def registration_options(request, *, user: User) -> dict:
    """Options for navigator.credentials.create() (JSON-ready, bytes as base64url)."""
    options, state = _server(request).register_begin(
        {"id": user_handle(user), "name": user.email, "displayName": user.name or user.email},
        credentials=[_descriptor(pk) for pk in passkeys_of(user)],
        resident_key_requirement=ResidentKeyRequirement.REQUIRED,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _challenge_store(request, purpose="register", state=state, user_id=user.pk)
    public_key = dict(options)["publicKey"]
    public_key["extensions"] = {"credProps": True, "prf": {}}
    return public_key


def passkey_register(request, *, user: User, response: dict, label: str) -> Passkey:
    """Verify the browser's attestation and store the credential (no PRF wrap yet: that takes
    an assertion, `passkey_enable_unlock`). Raises PasskeyError."""
    label = (label or "").strip()[:LABEL_MAX] or "Passkey"
    response = dict(response or {})
    response.pop("prf", None)
    state = _challenge_take(request, response=response, purpose="register", user_id=user.pk)
    try:
        auth_data = _server(request).register_complete(state, response)
    except Exception:  # the library raises ValueError, KeyError, TypeError on bad input
        log.info("account %s: passkey registration refused", user.pk)
        raise PasskeyError(REFUSED) from None
    credential = auth_data.credential_data
    if Passkey.objects.filter(credential_id=credential.credential_id).exists():
        raise PasskeyError("This passkey is already registered.")
    pk = Passkey.objects.create(
        user=user,
        name="passkey",
        confirmed=True,
        credential_id=credential.credential_id,
        credential_data=bytes(credential),
        sign_count=auth_data.counter,
        label=label,
    )
    log.info("account %s added passkey %s", user.pk, pk.pk)
    return pk


def unlock_options(request, *, user: User, passkey_id: int) -> dict:
    """Options for navigator.credentials.get() asking the new passkey for its PRF output."""
    pk = Passkey.objects.get(user=user, pk=passkey_id)
    options, state = _server(request).authenticate_begin(
        [_descriptor(pk)], user_verification=UserVerificationRequirement.REQUIRED
    )
    _challenge_store(request, purpose=f"unlock:{pk.pk}", state=state, user_id=user.pk)
    public_key = dict(options)["publicKey"]
    public_key["extensions"] = _prf_extension()
    return public_key


def _verify_assertion(
    request, *, state: dict, candidates: list[Passkey], response: dict, user: User | None
) -> tuple[Passkey, AuthenticationResponse]:
    """Library verification, then the counter. Raises PasskeyError (counted on the throttle)."""
    try:
        parsed = AuthenticationResponse.from_dict(response)
        credentials = [AttestedCredentialData(bytes(pk.credential_data)) for pk in candidates]
        matched = _server(request).authenticate_complete(state, credentials, response)
    except Exception:  # ValueError for every failed check; KeyError/TypeError on junk
        raise _fail(request, user) from None
    pk = next(c for c in candidates if bytes(c.credential_id) == matched.credential_id)
    counter = parsed.response.authenticator_data.counter
    handle = parsed.response.user_handle
    if handle is not None and not hmac.compare_digest(handle, user_handle(pk.user)):
        log.warning("passkey %s presented with another account's user handle", pk.pk)
        raise _fail(request, pk.user)
    with transaction.atomic():
        stored = Passkey.objects.select_for_update().get(pk=pk.pk)
        went_back = bool(counter or stored.sign_count) and counter <= stored.sign_count
        if went_back:
            # Reported twice: to the operator's log, and on the owner's security page.
            stored.counter_went_back_at = timezone.now()
            stored.save(update_fields=["counter_went_back_at"])
        else:
            stored.sign_count = counter
            stored.last_used_at = timezone.now()
            stored.save(update_fields=["sign_count", "last_used_at"])
    if went_back:
        log.warning(
            "account %s: passkey %s signature counter went back (%d after %d); "
            "the authenticator may have been cloned",
            pk.user_id,
            pk.pk,
            counter,
            stored.sign_count,
        )
        raise _fail(request, pk.user)
    return stored, parsed


@sensitive_variables("value")
def _prf_output(response: dict) -> bytes | None:
    value = response.pop("prf", None)
    if value is None:
        return None
    return _unb64(value)


# Error reports (DEBUG pages, admin mails) never show these frames' secrets.
@sensitive_variables("response", "prf_output", "umk")
def passkey_enable_unlock(
    request, *, user: User, passkey_id: int, response: dict, umk: bytes
) -> bool:
    """Wrap UMK under the passkey's PRF output. Returns False when the browser sent no PRF
    output (the passkey stays a second factor). Raises PasskeyError for a refused assertion."""
    response = dict(response or {})
    prf_output = _prf_output(response)
    state = _challenge_take(
        request, response=response, purpose=f"unlock:{passkey_id}", user_id=user.pk
    )
    candidates = list(Passkey.objects.filter(user=user, pk=passkey_id))
    if not candidates:
        raise PasskeyError(REFUSED)
    pk, _ = _verify_assertion(
        request, state=state, candidates=candidates, response=response, user=user
    )
    if prf_output is None:
        return False
    salt = passkey.new_salt()
    try:
        wrap = passkey.wrap_master_key(
            umk, prf_output=prf_output, salt=salt, credential_id=bytes(pk.credential_id)
        )
    except DecryptionError:  # a PRF output of the wrong size
        return False
    Passkey.objects.filter(pk=pk.pk).update(prf_salt=salt, umk_wrap=wrap)
    log.info("account %s: passkey %s now unlocks the vault", user.pk, pk.pk)
    return True


# Signing in -----------------------------------------------------------------------------------


def sign_in_options(request) -> dict:
    """Options for a passwordless, discoverable sign-in (user verification required)."""
    options, state = _server(request).authenticate_begin(
        None, user_verification=UserVerificationRequirement.REQUIRED
    )
    _challenge_store(request, purpose="sign-in", state=state, user_id=None)
    public_key = dict(options)["publicKey"]
    public_key["extensions"] = _prf_extension()
    return public_key


@sensitive_variables("response", "prf_output", "umk", "private_key")
def passkey_sign_in(request, *, response: dict) -> PasskeySignIn:
    """Passkey alone: user verification (both factors in one) and the PRF output that unwraps
    UMK. Raises PasskeyError; NO_UNLOCK for a valid passkey that has no PRF wrap."""
    response = dict(response or {})
    prf_output = _prf_output(response)
    state = _challenge_take(request, response=response, purpose="sign-in")
    raw_id = _unb64(response.get("rawId"))
    candidates = list(Passkey.objects.select_related("user").filter(credential_id=raw_id))
    user = candidates[0].user if candidates else None
    _check_not_locked(request, user)
    if user is None or not user.is_active:
        raise _fail(request, None)
    pk, _ = _verify_assertion(
        request, state=state, candidates=candidates, response=response, user=user
    )
    if not pk.umk_wrap or prf_output is None:
        raise PasskeyError(NO_UNLOCK)
    try:
        umk = passkey.unwrap_master_key(
            bytes(pk.umk_wrap),
            prf_output=prf_output,
            salt=bytes(pk.prf_salt),
            credential_id=bytes(pk.credential_id),
        )
        user_keys = UserKeys.objects.get(user=user)
        private_key = keys.unwrap_private_key(umk, bytes(user_keys.wrapped_private_key))
    except (DecryptionError, UserKeys.DoesNotExist):
        log.warning("account %s: passkey %s gave a PRF output that opens nothing", user.pk, pk.pk)
        raise _fail(request, user) from None
    return PasskeySignIn(user=user, passkey=pk, umk=umk, private_key=private_key)


def second_factor_options(request, *, user: User) -> dict | None:
    """Options for the passkey as the second step after `user`'s password (None: no passkey)."""
    candidates = passkeys_of(user)
    if not candidates:
        return None
    options, state = _server(request).authenticate_begin(
        [_descriptor(pk) for pk in candidates],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _challenge_store(request, purpose="second-factor", state=state, user_id=user.pk)
    return dict(options)["publicKey"]


def passkey_second_factor(request, *, user: User, response: dict) -> Passkey:
    """Verify a passkey of `user` (whose password was just entered). Raises PasskeyError."""
    response = dict(response or {})
    response.pop("prf", None)
    _check_not_locked(request, user)
    state = _challenge_take(request, response=response, purpose="second-factor", user_id=user.pk)
    candidates = passkeys_of(user)
    pk, _ = _verify_assertion(
        request, state=state, candidates=candidates, response=response, user=user
    )
    return pk


# Managing -------------------------------------------------------------------------------------


def passkey_rename(*, user: User, passkey_id: int, label: str) -> bool:
    label = (label or "").strip()[:LABEL_MAX]
    if not label:
        return False
    return bool(Passkey.objects.filter(user=user, pk=passkey_id).update(label=label))


def passkey_remove(*, user: User, passkey_id: int) -> bool:
    """Delete the credential and its UMK wrap at once. Sessions it verified end with it."""
    deleted, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
    if deleted:
        log.info("account %s removed passkey %s", user.pk, passkey_id)
    return bool(deleted)
