"""A recovery key closed unread after sign-up is asked for again, in real Chromium (24.3)."""

import pytest

from tests.accounts.conftest import PASSWORD
from vaultdev.signin import last_emailed_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _type_back_groups(page, groups):
    for field in ("first", "second"):
        label = page.locator(f"label[for=id_{field}]").inner_text()
        position = int(label.rstrip(":").split()[-1])
        page.locator(f"#id_{field}").fill(groups[position - 1])
    page.get_by_role("button", name="I have saved my recovery key").click()


def test_a_skipped_recovery_key_is_asked_for_until_a_new_one_is_confirmed(page, redis_conn):
    page.goto("/accounts/register/")
    page.get_by_label("Name").fill("Sam Skipper")
    page.get_by_label("Email").fill("sam@example.org")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Your recovery key").wait_for()

    # Closed without typing the groups back; opening the confirm address is no blank page.
    page.goto("/accounts/recovery-key/confirm/")
    page.get_by_role("button", name="I have saved my recovery key").wait_for()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Confirm your email").wait_for()
    page.get_by_label("Code").fill(last_emailed_code("sam@example.org"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Gallery").wait_for()

    banner = page.locator("#recovery-key-banner")
    banner.wait_for()
    page.get_by_role("link", name="Account", exact=True).click()
    page.locator("#recovery-key-state").get_by_text("Not confirmed.").wait_for()
    assert banner.is_visible()

    banner.get_by_role("link").click()
    page.get_by_role("heading", name="Recovery key", exact=True).wait_for()
    page.get_by_role("button", name="Make a new recovery key").click()
    page.get_by_text("Your old recovery key no longer works.").wait_for()
    groups = page.locator("#recovery-key").get_attribute("data-key").split("-")
    _type_back_groups(page, groups)

    page.get_by_text("Recovery key confirmed.").wait_for()
    page.locator("#recovery-key-state").get_by_text("Confirmed on").wait_for()
    assert page.locator("#recovery-key-banner").count() == 0
    page.get_by_role("link", name="Gallery").click()
    page.get_by_role("heading", name="Gallery").wait_for()
    assert page.locator("#recovery-key-banner").count() == 0
