"""Sign-up, sign-out and sign-in in real Chromium."""

from pathlib import Path

import pytest

from tests.accounts.conftest import PASSWORD
from vaultdev.signin import last_emailed_code, sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_confirm_key_log_out_and_back_in(page, redis_conn):
    page.goto("/")
    page.get_by_role("link", name="Create account").first.click()
    page.get_by_label("Name").fill("Bea Browser")
    page.get_by_label("Email").fill("bea@example.org")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    page.get_by_role("heading", name="Your recovery key").wait_for()
    key = page.locator("#recovery-key").get_attribute("data-key")
    groups = key.split("-")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as a file").click()
    assert key in Path(download.value.path()).read_text()

    for field in ("first", "second"):
        label = page.locator(f"label[for=id_{field}]").inner_text()
        position = int(label.rstrip(":").split()[-1])
        page.locator(f"#id_{field}").fill(groups[position - 1])
    page.get_by_role("button", name="I have saved my recovery key").click()

    page.get_by_role("heading", name="Confirm your email").wait_for()
    page.get_by_label("Code").fill(last_emailed_code("bea@example.org"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Sign out").wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Your vault is locked").wait_for()

    sign_in_browser(page, email="bea@example.org", password=PASSWORD)
    page.get_by_role("heading", name="Gallery").wait_for()  # the login lands in the gallery
    page.get_by_text("Your vault is empty").wait_for()
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_text("bea@example.org").first.wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Your vault is locked").wait_for()
    page.goto("/accounts/security/")
    assert "/accounts/login/" in page.url
