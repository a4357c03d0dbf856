"""The security page says the right thing (issue 24.7) and asks before changing the default
sign-in method (issue 24, "adding an authenticator app asks whether it becomes the default")."""

from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.users import PASSWORD
from vaultdev.signin import login_code_step, login_password_step, sign_in

OLD_CODES = "Your old backup codes no longer work."


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def test_a_first_set_of_backup_codes_does_not_speak_of_old_ones(client, owner):
    sign_in(client, owner, PASSWORD)
    first = _text(client.post(reverse("accounts:backup_codes")))
    assert "Your backup codes" in first and OLD_CODES not in first
    second = _text(client.post(reverse("accounts:backup_codes")))
    assert OLD_CODES in second


def test_adding_an_app_asks_whether_it_becomes_the_default(client, owner):
    sign_in(client, owner, PASSWORD)
    page = _text(client.get(reverse("accounts:totp_add")))
    assert "Ask for a code from this app first when you sign in?" in page
    assert 'name="make_default" value="yes"' in page and 'value="no"' in page


def test_an_app_added_as_not_default_leaves_email_codes_first(client, owner):
    sign_in(client, owner, PASSWORD)
    client.get(reverse("accounts:totp_add"))
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(
        reverse("accounts:totp_add"),
        {"code": f"{totp(device.bin_key):06d}", "make_default": "no"},
        follow=True,
    )
    assert "Sign-in still asks for an emailed code first" in _text(response)
    device.refresh_from_db()
    assert device.confirmed and device.name != "default"
    assert EmailDevice.objects.get(user=owner).name == "default"
    client.post(reverse("accounts:logout"))

    # The next sign-in emails a code first and offers the app as another way.
    page = _text(login_password_step(client, email=owner.email, password=PASSWORD))
    assert "We sent a code to" in page and "Use your authenticator app instead" in page


def test_an_app_added_as_default_is_asked_first(client, owner):
    sign_in(client, owner, PASSWORD)
    client.get(reverse("accounts:totp_add"))
    device = TOTPDevice.objects.get(user=owner)
    client.post(
        reverse("accounts:totp_add"),
        {"code": f"{totp(device.bin_key):06d}", "make_default": "yes"},
    )
    device.refresh_from_db()
    assert device.name == "default"
    assert EmailDevice.objects.get(user=owner).name != "default"
    client.post(reverse("accounts:logout"))
    login_password_step(client, email=owner.email, password=PASSWORD)
    response = login_code_step(client, f"{totp(device.bin_key, t0=-30):06d}")
    assert response.status_code == 302
