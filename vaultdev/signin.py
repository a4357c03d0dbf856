"""Sign-in helpers for tests: they go through the real login pages and the emailed code."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

PREFIX = "vault_login_view"
CODE = re.compile(r"\b(\d{6})\b")


def last_emailed_code(email: str) -> str:
    for message in reversed(mail.outbox):
        if email.lower() in [to.lower() for to in message.to]:
            match = CODE.search(message.body)
            if match:
                return match.group(1)
    raise AssertionError(f"no code was emailed to {email}")


def login_password_step(client, *, email: str, password: str):
    return client.post(
        reverse("accounts:login"),
        {f"{PREFIX}-current_step": "auth", "auth-username": email, "auth-password": password},
    )


def login_code_step(client, code: str, *, step: str = "token"):
    field = "otp_token"
    return client.post(
        reverse("accounts:login"), {f"{PREFIX}-current_step": step, f"{step}-{field}": code}
    )


def login_send_new_code(client):
    """Press "Send a new code" on the code step."""
    return client.post(reverse("accounts:login"), {"send_code": "1"})


def sign_in(client, user, password: str):
    """Full sign-in of a Django test Client: password, then the emailed code. Returns the
    final response (a redirect to the gallery); the client then holds the keyring cookie."""
    response = login_password_step(client, email=user.email, password=password)
    assert response.status_code == 200, "the password step did not lead to the code step"
    response = login_code_step(client, last_emailed_code(user.email))
    assert response.status_code == 302, "the code step did not sign in"
    return response


def sign_in_browser(page, *, email: str, password: str) -> None:
    """The same through real pages in Chromium (Playwright page on the live server)."""
    page.goto(reverse("accounts:login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code").wait_for()
    page.get_by_label("Code").fill(last_emailed_code(email))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login" not in url)
