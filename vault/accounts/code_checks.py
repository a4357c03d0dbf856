"""Checking a typed sign-in code: two back-offs that never add up, each said in seconds.

Two guards stand in front of every code (DESIGN §4, issue 24.2):
- django-otp's per-device back-off (`ThrottlingMixin`, OTP_*_THROTTLE_FACTOR = 1): after n
  wrong codes in a row the device checks nothing for 2^(n-1) s, without limit (20 wrong codes:
  six days). While it holds, a code is *refused unchecked*.
- the vault's own counters (vault.accounts.throttle, scope "code"): per account and per
  address, free attempts, then 15 s doubling up to an hour.

They used to compound: a refused-unchecked code (typically the right one, typed a second after
a typo) was counted by the vault as one more wrong code, the account's code counter was never
cleared by a successful sign-in, and the page said "wait a little" without saying how long.
Here a refusal counts nothing and names the seconds; only a code that was checked and wrong
counts; a right code clears the account's code counter, as a right password clears the
password counter. An attacker learns nothing from a refused code, so the limits stay as they
were for every code that is actually checked.
"""

from __future__ import annotations

import math

from django.utils import timezone
from django_otp.models import VerifyNotAllowed

from vault.accounts import throttle

WRONG_CODE = "That code is not right, has expired, or was used already."


def device_wait(device) -> int:
    """Seconds until django-otp's back-off lets `device` check a code again (0: now).

    Reads `device.verify_is_allowed()`; a refusal for another reason than wrong codes (which
    has no end time) counts as one second.
    """
    allowed, extra = device.verify_is_allowed()
    if allowed:
        return 0
    extra = extra or {}
    until = extra.get("locked_until")
    if extra.get("reason") != VerifyNotAllowed.N_FAILED_ATTEMPTS or until is None:
        return 1
    return max(math.ceil((until - timezone.now()).total_seconds()), 1)


def device_wait_message(seconds: int) -> str:
    return (
        "After a wrong code, the next one can be checked in "
        f"{throttle.seconds_text(seconds)}. Enter it again then."
    )


def code_wait_error(request, *, user, device) -> str:
    """The message for a code that must not be checked now, or "" if it may be checked."""
    wait = throttle.seconds_locked(_subject(request, user))
    if wait:
        return throttle.wait_message(wait)
    wait = device_wait(device) if device is not None else 0
    return device_wait_message(wait) if wait else ""


def code_record_wrong(request, *, user) -> None:
    """A code was checked and was wrong: count it for the account and the address."""
    throttle.record_failure(_subject(request, user))


def code_record_right(request, *, user) -> None:
    """A code was right: earlier typos of this account stop counting (the address's stay)."""
    throttle.record_success(_subject(request, user))


def code_verify(request, *, user, device, token: str) -> str:
    """Check `token` against `device` behind both back-offs. Returns "" when it was right,
    else the message to show (a wait in seconds, or WRONG_CODE)."""
    error = code_wait_error(request, user=user, device=device)
    if error:
        return error
    if device.verify_token(token.strip().replace(" ", "")):
        code_record_right(request, user=user)
        return ""
    code_record_wrong(request, user=user)
    return WRONG_CODE


def code_verify_any(request, *, user, token: str):
    """The password-reset form: `token` from any confirmed device of the user (app, emailed
    code or backup code), behind both back-offs. Returns (device or None, message).

    django-otp's `match_token` tries every device, and each one that checks the code and
    finds it wrong starts its own back-off. A code no device could check (all in back-off)
    is refused unchecked and not counted; otherwise a miss counts once.
    """
    from django_otp import devices_for_user, match_token

    wait = throttle.seconds_locked(_subject(request, user))
    if wait:
        return None, throttle.wait_message(wait)
    waits = [device_wait(device) for device in devices_for_user(user, confirmed=True)]
    if waits and all(waits):
        return None, device_wait_message(min(waits))
    device = match_token(user, token.strip().replace(" ", ""))
    if device is None:
        code_record_wrong(request, user=user)
        return None, WRONG_CODE
    # Not cleared here: the recovery key is checked next, and its misses count on this same
    # counter until the whole reset succeeds (finish_login clears it).
    return device, ""


def _subject(request, user) -> throttle.Subject:
    return throttle.Subject.for_request(request, scope="code", email=user.email)
