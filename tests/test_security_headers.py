"""Every response carries the Content-Security-Policy and the other security headers: pages,
JSON, static files served by whitenoise and error pages; and no template needs the inline code
the policy forbids."""

import re
from pathlib import Path

import pytest
from django.test import override_settings

from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
DENIED_FEATURES = ["camera", "microphone", "geolocation", "payment", "usb", "interest-cohort"]
TEMPLATES = sorted(Path(__file__).resolve().parent.parent.glob("vault/**/templates/**/*.html"))


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/", "text/html"),
        ("/healthz", "application/json"),
        ("/static/css/vault.css", "text/css"),
        ("/static/js/vault.js", "text/javascript"),
        ("/no-such-page/", "text/html"),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(
    client, db, redis_conn, url, content_type
):
    response = client.get(url)
    assert response["Content-Type"].startswith(content_type)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    policy = dict(item.split("=") for item in response["Permissions-Policy"].split(", "))
    assert all(policy[feature] == "()" for feature in DENIED_FEATURES)


@pytest.mark.django_db
def test_pages_cannot_be_framed(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_debug_error_pages_keep_their_inline_styles(client):
    # Django's technical pages are inline styles and scripts: the policy would hide them.
    with override_settings(DEBUG=True):
        response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_hold_no_inline_script_or_style(template):
    html = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style\b", html), "<style> element"
    assert not re.search(r"<[^>]*\sstyle\s*=", html), "style= attribute"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "on…= event handler"
    assert "javascript:" not in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_authenticator_qr_code_shows_under_the_policy(page, owner):
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_role("heading", name="Gallery").wait_for()
    page.goto("/accounts/security/authenticator/")
    page.get_by_role("heading", name="Add an authenticator app").wait_for()
    # Inline SVG markup, sized by our stylesheet; the page fixture fails on any violation.
    box = page.locator(".qr svg").bounding_box()
    assert box is not None and round(box["width"]) == round(box["height"]) == 200
    assert page.locator(".qr svg path").count() == 1
