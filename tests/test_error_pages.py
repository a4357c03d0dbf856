"""Error pages: `make run` has debug off, and a visitor who provokes an error (a malformed or
forged request, a missing page, a bug) gets a small page in the site's style, never a
traceback or the settings."""

import json
import subprocess
import sys

import pytest
from django.test import Client

from tests.error_urls import SECRET_IN_THE_ERROR
from vaultdev.run import ROOT, run_env

STYLESHEET = '<link rel="stylesheet" href="/static/css/vault.css">'


def assert_plain_page(response, status: int, heading: str) -> str:
    body = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert len(response.content) < 10_000
    assert heading in body
    assert STYLESHEET in body and '<main id="content" class="content">' in body
    for leak in ("Traceback", "SECRET_KEY", "DATABASES", "settings", SECRET_IN_THE_ERROR):
        assert leak not in body
    return body


def test_make_run_serves_with_debug_off_and_keeps_its_conveniences(monkeypatch, tmp_path):
    # The test run's own settings must not stand in for make run's defaults.
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "STATIC_MANIFEST", "EMAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    env = run_env(
        database_url="postgresql://postgres@/vault?host=/nonexistent",
        redis_url="unix:///nonexistent/valkey.sock",
        var=tmp_path,
    )
    code = (
        "import json; from vault import settings as s; print(json.dumps([s.DEBUG, "
        "s.ALLOWED_HOSTS, s.STATIC_MANIFEST, s.WHITENOISE_USE_FINDERS, s.EMAIL_BACKEND]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    debug, hosts, manifest, finders, email = json.loads(result.stdout)
    assert debug is False
    assert hosts == ["127.0.0.1", "localhost"]
    assert (manifest, finders) == (False, True)  # CSS and JS straight from the source folders
    assert email == "django.core.mail.backends.console.EmailBackend"
    assert (tmp_path / "secret_key").exists()


def test_make_run_turns_debug_on_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("DEBUG", "true")
    assert run_env(database_url="", redis_url="", var=tmp_path)["DEBUG"] == "true"


@pytest.mark.django_db
def test_malformed_post_to_sign_in_gets_a_plain_400():
    client = Client(raise_request_exception=False)
    # multipart without a boundary: Django cannot parse the body
    response = client.generic(
        "POST", "/accounts/login/", b"--x\r\nbroken", content_type="multipart/form-data"
    )
    assert_plain_page(response, 400, "The request could not be read")


@pytest.mark.django_db
def test_sign_in_with_a_wrong_csrf_token_gets_a_plain_403():
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")  # sets the CSRF cookie
    response = client.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": "x" * 64, "auth-username": "a@b.c", "auth-password": "x"},
    )
    body = assert_plain_page(response, 403, "The form could not be checked")
    assert "CSRF verification failed" not in body  # Django's own page, not ours


@pytest.mark.django_db
def test_missing_page_is_a_plain_404_with_the_navigation(client):
    body = assert_plain_page(client.get("/no-such-page/"), 404, "Page not found")
    assert 'href="/accounts/login/"' in body  # context processors ran: the site's menu


@pytest.mark.urls("tests.error_urls")
def test_a_bug_gets_a_plain_500_that_needs_no_context_nor_url_names():
    client = Client(raise_request_exception=False)
    assert_plain_page(client.get("/fail/"), 500, "Something went wrong")


@pytest.mark.urls("tests.error_urls")
@pytest.mark.django_db
def test_permission_denied_gets_a_plain_403(client):
    assert_plain_page(client.get("/forbidden/"), 403, "You cannot open this page")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_404_page_in_the_browser_is_styled_and_breaks_no_policy(page):
    response = page.goto("/no-such-page/")
    assert response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    background = page.eval_on_selector(".site-header", "el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(255, 255, 255)"  # our stylesheet applied
    # Chromium logs the 404 itself; anything else (a CSP violation) still fails the test.
    page.vault_problems[:] = [p for p in page.vault_problems if "status of 404" not in p]
