"""Passkeys in real Chromium with the DevTools virtual authenticator (CTAP 2.1, resident keys,
user verification, PRF): add one, sign out, sign in with it alone and open a photo; a second
authenticator without PRF becomes the step after the password; a removed passkey is refused."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.users import PASSWORD
from vault.accounts import devices
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _authenticator(cdp, *, prf: bool) -> str:
    options = {
        "protocol": "ctap2",
        "ctap2Version": "ctap2_1",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "hasPrf": prf,
        "automaticPresenceSimulation": True,
    }
    return cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]


def _add_passkey(page, owner, name: str) -> None:
    code = devices.backup_codes_replace(user=owner)[0][0]
    page.goto(reverse("accounts:security"))
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name of this passkey").fill(name)
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url("**/accounts/security/")


def _upload(page) -> tuple[str, bytes]:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    data = support.jpeg(support.picture(64, 48, seed=3))
    response = page.request.post(
        reverse("photos:upload"),
        multipart={"photos": {"name": "beach.jpg", "mimeType": "image/jpeg", "buffer": data}},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    [outcome] = response.json()["files"]
    assert outcome["status"] == "stored", outcome
    return outcome["photo"], data


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Your vault is locked").wait_for()


# The virtual authenticator answers the sign-in page's autofill (conditional) request at once,
# as if the person had picked the passkey from the email field's list. To press the button
# instead, these pages are a browser without autofill.
NO_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"


def test_passkey_signs_in_unlocks_falls_back_and_is_refused_once_removed(page, owner):
    page.add_init_script(NO_AUTOFILL)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    with_prf = _authenticator(cdp, prf=True)

    sign_in_browser(page, email=owner.email, password=PASSWORD)
    photo, data = _upload(page)
    _add_passkey(page, owner, "Laptop")
    page.get_by_text("It signs you in and unlocks your vault").wait_for()
    page.get_by_text("signs in and unlocks").first.wait_for()
    _sign_out(page)

    # The passkey alone: no email, no password, no code; the photo opens.
    page.goto(reverse("accounts:login"))
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_role("heading", name="Gallery").wait_for()
    page.goto(reverse("photos:detail", args=[photo]))
    assert page.request.get(reverse("photos:download", args=[photo])).body() == data

    # A second authenticator, without PRF: added, it is only the step after the password.
    saved = cdp.send("WebAuthn.getCredentials", {"authenticatorId": with_prf})["credentials"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": with_prf})
    without_prf = _authenticator(cdp, prf=False)
    _add_passkey(page, owner, "Security key")
    page.get_by_text("only as the second step after your password").first.wait_for()
    _sign_out(page)
    page.goto(reverse("accounts:login"))
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Use a passkey instead").click()
    page.get_by_role("heading", name="Gallery").wait_for()
    assert page.request.get(reverse("photos:download", args=[photo])).body() == data

    # Remove the first passkey; the authenticator that still holds it is refused.
    page.goto(reverse("accounts:security"))
    page.get_by_role("button", name="Remove Laptop").click()
    page.get_by_text("Passkey removed").wait_for()
    _sign_out(page)
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": without_prf})
    again = _authenticator(cdp, prf=True)
    for credential in saved:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": again, "credential": credential})
    page.goto(reverse("accounts:login"))
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("That passkey was not accepted").wait_for()
    assert "/accounts/login/" in page.url
    # The refusal is a 400 answer, which Chromium also logs to the console: expected here.
    page.vault_problems[:] = [p for p in page.vault_problems if "status of 400" not in p]


def test_the_email_fields_autofill_offers_the_passkey(page, owner):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    _authenticator(cdp, prf=True)
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    _add_passkey(page, owner, "Phone")
    _sign_out(page)
    page.goto(reverse("accounts:login"))  # nothing clicked: the autofill pick signs in
    page.get_by_role("heading", name="Gallery").wait_for()
