"""Sign-up: unique email, the recovery key shown once and confirmed, the emailed code."""

from django.urls import reverse

from tests.accounts.conftest import PASSWORD
from vault.accounts.models import User
from vaultdev.signin import last_emailed_code

REGISTER = reverse("accounts:register")


def _register(client, email="Rita@Example.org"):
    return client.post(
        REGISTER,
        {"name": "Rita", "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def _confirm(client, response):
    groups = response.context["groups"]
    first, second = response.context["form"].positions
    return client.post(
        reverse("accounts:recovery_key_confirm"),
        {"first": groups[first - 1].lower(), "second": groups[second - 1]},
    )


def test_sign_up_end_to_end(client, db, redis_conn):
    response = _register(client)
    assert response.status_code == 200
    assert "only way back into your photos" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    user = User.objects.get(email__iexact="rita@example.org")
    assert not user.email_verified

    response = _confirm(client, response)
    assert response["Location"] == reverse("accounts:verify_email")
    response = client.post(
        reverse("accounts:verify_email"), {"code": last_emailed_code(user.email)}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email_verified
    assert client.get(reverse("accounts:security")).status_code == 200


def test_email_is_unique_whatever_its_case(client, db, redis_conn):
    _register(client, "rita@example.org")
    client.cookies.clear()
    response = _register(client, "RITA@example.ORG")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="rita@example.org").count() == 1


def test_wrong_recovery_groups_do_not_continue(client, db, redis_conn):
    response = _register(client)
    response = client.post(
        reverse("accounts:recovery_key_confirm"), {"first": "AAAA", "second": "BBBB"}
    )
    assert response.status_code == 400
    assert "do not match" in response.content.decode()
    assert client.get(reverse("accounts:security")).status_code == 302


def test_a_new_recovery_key_can_be_shown_before_confirming(client, db, redis_conn):
    first = _register(client)
    second = client.post(reverse("accounts:recovery_key_reissue"))
    assert second.status_code == 200
    assert second.context["recovery_key"] != first.context["recovery_key"]
    # Only the new one is accepted.
    response = _confirm(client, second)
    assert response.status_code == 302


def test_weak_password_is_refused_with_a_reason(client, db, redis_conn):
    response = client.post(
        REGISTER,
        {
            "name": "Rita",
            "email": "r@example.org",
            "password1": "12345678",
            "password2": "12345678",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.exists()
