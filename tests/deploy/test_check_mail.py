"""`make deploy-check` reads the sign-in code from the right mail (issue 24.8).

The check failed 2 runs of 3 at "sign-in with the mailed code failed: 200": it took the first
six digits anywhere in the raw message. Mail arrives over SMTP with CRLF line ends, so its
split at LF LF never found the body, and the Message-ID header, <time.PID.random@host>, holds
the sending web worker's process id: a six-digit PID was read as the code. Here the vault
sends its real code emails over real SMTP to the check's own mail sink."""

import importlib.util
import os
import smtplib
from pathlib import Path

import pytest
from django.core import mail
from django_otp.plugins.otp_email.models import EmailDevice

from vault.accounts.email_codes import email_code_offer
from vault.accounts.services import account_create

SPEC = importlib.util.spec_from_file_location(
    "deploy_check", Path(__file__).resolve().parents[2] / "deploy" / "check.py"
)
check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check)

SIX_DIGIT_PID = 123456


@pytest.fixture
def sink(settings):
    server = check.MailSink(port=0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield server
    server.shutdown()
    server.server_close()


def _mail_a_code(user, monkeypatch) -> str:
    """The vault emails a sign-in code as at the password step, from a process whose PID has
    six digits (it goes into the Message-ID). Returns the code the device now accepts."""
    EmailDevice.objects.filter(user=user).update(last_generated_timestamp=None, token=None)
    device = EmailDevice.objects.get(user=user)
    with monkeypatch.context() as patch:
        patch.setattr(os, "getpid", lambda: SIX_DIGIT_PID)
        email_code_offer(device)
    device.refresh_from_db()
    return device.token


def _received(sink, count: int) -> None:
    from vaultdev.pytest_plugin import wait_until

    wait_until(lambda: len(sink.messages) >= count, timeout=10, interval=0.05)


def test_the_code_comes_from_the_body_not_a_six_digit_pid(sink, owner, monkeypatch):
    code = _mail_a_code(owner, monkeypatch)
    _received(sink, 1)
    assert f".{SIX_DIGIT_PID}." in sink.messages[0]  # the Message-ID carries the PID
    assert sink.code_for(owner.email, 0, timeout=5) == code


def test_the_newest_code_to_that_very_address_wins(sink, owner, db, monkeypatch):
    digits, _ = account_create(
        name="Olive", email="olive-314159@example.org", password="a long passphrase 42"
    )
    digits.refresh_from_db()
    EmailDevice.objects.filter(user=digits).update(confirmed=True)
    first = _mail_a_code(owner, monkeypatch)
    other = _mail_a_code(digits, monkeypatch)
    second = _mail_a_code(owner, monkeypatch)
    _received(sink, 3)
    if first == second:
        pytest.skip("two equal codes in a row (1 in a million)")
    assert sink.code_for(owner.email, 0, timeout=5) == second
    assert sink.code_for("OLIVE-314159@example.org", 0, timeout=5) == other
    # Mail to another address is never read as this one's, even when it names it.
    assert check.mailed_code(sink.messages[1:2], owner.email) is None


def test_a_dot_at_the_start_of_a_line_survives_smtp(sink):
    with smtplib.SMTP(*sink.server_address) as client:
        client.sendmail(
            "vault@example.org",
            ["olive@example.org"],
            f"To: olive@example.org\r\nSubject: {check.CODE_SUBJECT}\r\n\r\n"
            ".hidden line\r\nYour Secure Photo Vault code is: 246810\r\n",
        )
    _received(sink, 1)
    assert sink.messages[0].split("\r\n\r\n", 1)[1].startswith(".hidden line")
    assert sink.code_for("olive@example.org", 0, timeout=5) == "246810"
    assert not mail.outbox  # nothing went to the test outbox: it all went over SMTP
