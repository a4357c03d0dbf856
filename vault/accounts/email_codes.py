"""Emailed sign-in codes: send one only when that is allowed, and say truthfully what happened.

django-otp keeps one code per EmailDevice: sending a new code replaces the old one, which then
no longer works. Its cooldown (OTP_EMAIL_COOLDOWN_DURATION, 60 s) spaces out the emails; a
counter in Valkey caps how often the user may ask for a new one. Codes never leave this module
except in the email itself.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_email.conf import settings as otp_email_settings
from django_otp.plugins.otp_email.models import EmailDevice
from two_factor.plugins.email.utils import mask_email

from vault.accounts import throttle

logger = logging.getLogger(__name__)

REQUEST_LIMIT = 5  # "Send a new code" presses that send an email…
REQUEST_WINDOW = 15 * 60  # …within this many seconds of the first one


class Outcome(StrEnum):
    SENT = "sent"  # a new code went out just now
    NOT_SENT = "not_sent"  # nothing was asked for, or nothing had to be sent: state only
    REFUSED = "refused"  # the user asked for a new code too soon or too often
    FAILED = "failed"  # the mail server did not take the email


@dataclass(frozen=True)
class CodeStatus:
    outcome: Outcome
    address: str  # masked: o***e@example.org
    valid_for: int  # seconds the latest code still works (0: no code works)
    sent_ago: int | None  # seconds since the latest code was sent (None: never)
    request_in: int  # seconds until "Send a new code" may send one (0: now)
    replaced: bool = False  # a code that still worked was replaced by the one just sent
    refusal: str = ""  # why a request for a new code sent nothing

    @property
    def message(self) -> str:
        """One or two sentences on what was sent, when, where, and for how long it works."""
        if self.outcome == Outcome.FAILED:
            return (
                f"We could not send a code to {self.address} just now. "
                "Ask for a new code in a minute, or use another method."
            )
        if self.outcome == Outcome.SENT:
            text = f"We sent a code to {self.address}. It is valid for {_minutes(self.valid_for)}."
            if self.replaced:
                text += " The code we sent before no longer works."
            return text
        if self.sent_ago is None:
            return f"We have not sent a code to {self.address} yet. Ask for one below."
        sent = f"We sent a code to {self.address} {_ago(self.sent_ago)}"
        when = f" in {_seconds(self.request_in)}" if self.request_in else ""
        if self.valid_for:
            sent += f"; it is still valid for {_minutes(self.valid_for)}"
            if self.outcome == Outcome.REFUSED:  # the refusal says when to ask again
                return f"{sent}. Enter it."
            return f"{sent}. Enter it, or ask for a new one{when}."
        if self.outcome == Outcome.REFUSED:
            return f"{sent}; it has been used or has expired."
        return f"{sent}; it has been used or has expired. Ask for a new code{when}."


def email_code_status(device: EmailDevice, **extra) -> CodeStatus:
    """The state of the device's latest code, sending nothing."""
    now = timezone.now()
    cooldown, quota = _waits(device, now)
    valid_for = 0
    if device.token and device.valid_until > now:
        valid_for = int((device.valid_until - now).total_seconds())
    sent_ago = None
    if device.last_generated_timestamp:
        sent_ago = max(int((now - device.last_generated_timestamp).total_seconds()), 0)
    fields = {
        "outcome": Outcome.NOT_SENT,
        "address": mask_email(device.email or device.user.email),
        "valid_for": valid_for,
        "sent_ago": sent_ago,
        "request_in": max(cooldown, quota),
    }
    return CodeStatus(**{**fields, **extra})


def email_code_offer(device: EmailDevice) -> CodeStatus:
    """Arriving at the code step: send a code, unless one sent within the cooldown still works.

    A code that was used (or has expired) is no reason to wait: then a new one goes out even
    within the cooldown, since nothing else would let the user sign in.
    """
    try:
        with transaction.atomic():
            device = _locked(device)
            status = email_code_status(device)
            if status.valid_for and _waits(device, timezone.now())[0]:
                return status
            return _send(device, status)
    except OSError:
        return _failed(device)


def email_code_request(device: EmailDevice) -> CodeStatus:
    """The user pressed "Send a new code": at most one per cooldown and REQUEST_LIMIT per
    REQUEST_WINDOW, counted per user."""
    try:
        with transaction.atomic():
            device = _locked(device)
            cooldown, quota = _waits(device, timezone.now())
            if cooldown or quota:
                refusal = _refusal(cooldown, quota)
                return email_code_status(device, outcome=Outcome.REFUSED, refusal=refusal)
            sent = _send(device, email_code_status(device))
    except OSError:
        return _failed(device)
    throttle.quota_use(_requests_key(device.user_id), window=REQUEST_WINDOW)
    return sent


def _locked(device: EmailDevice) -> EmailDevice:
    # Two tabs at once must not both pass the cooldown check and send two emails.
    return EmailDevice.objects.select_related("user").select_for_update().get(pk=device.pk)


def _waits(device: EmailDevice, now) -> tuple[int, int]:
    """Seconds left of the device's cooldown, and of the user's cap on requests."""
    cooldown = 0
    if device.last_generated_timestamp:
        since = (now - device.last_generated_timestamp).total_seconds()
        cooldown = max(math.ceil(device.get_cooldown_duration() - since), 0)
    return cooldown, throttle.quota_wait(_requests_key(device.user_id), limit=REQUEST_LIMIT)


def _failed(device: EmailDevice) -> CodeStatus:
    # The transaction rolled back: no new code, no cooldown. Never log the code itself.
    logger.exception("could not email a sign-in code to user %s", device.user_id)
    fresh = EmailDevice.objects.select_related("user").get(pk=device.pk)
    return email_code_status(fresh, outcome=Outcome.FAILED)


def _send(device: EmailDevice, before: CodeStatus) -> CodeStatus:
    # The callers decided under the row lock that a code may go out (after a used code, even
    # within the cooldown); generate_challenge would check the cooldown once more and refuse
    # silently, so clear it first.
    device.cooldown_reset(commit=False)
    device.generate_challenge({"valid_minutes": _minutes(_validity())})
    return email_code_status(device, outcome=Outcome.SENT, replaced=bool(before.valid_for))


def _refusal(cooldown: int, quota: int) -> str:
    if cooldown >= quota:
        return f"We sent a code moments ago. You can ask for a new one in {_seconds(cooldown)}."
    return (
        f"You have asked for {REQUEST_LIMIT} new codes in {REQUEST_WINDOW // 60} minutes. "
        f"You can ask again in {_seconds(quota)}."
    )


def _requests_key(user_id: int) -> str:
    return f"spv:quota:code-request:user:{user_id}"


def _validity() -> int:
    return otp_email_settings.OTP_EMAIL_TOKEN_VALIDITY


def _minutes(seconds: int) -> str:
    # Rounded down, except that a code sent this instant is "valid for 10 minutes", not 9.
    minutes = (seconds + 2) // 60
    if minutes < 1:
        return "less than a minute"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _seconds(seconds: int) -> str:
    if seconds >= 120:
        return f"{(seconds + 59) // 60} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def _ago(seconds: int) -> str:
    if seconds < 60:
        return "less than a minute ago"
    minutes = seconds // 60
    return "1 minute ago" if minutes == 1 else f"{minutes} minutes ago"
