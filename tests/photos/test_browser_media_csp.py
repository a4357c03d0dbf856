"""A thumbnail, preview or face-free original opened directly in real Chromium: the browser's
own image viewer shows it and logs no Content-Security-Policy error (the picture responses carry
a policy of their own), while pages keep theirs."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_picture_opened_directly_logs_no_policy_error(page, owner, worker_key):
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        reverse("photos:upload"),
        multipart={"photos": {"name": "a.png", "mimeType": "image/png", "buffer": support.png()}},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    [outcome] = response.json()["files"]
    assert outcome["status"] == "stored", outcome
    assert run_jobs() == ["ready"]

    messages = []
    page.on("console", lambda message: messages.append((message.type, message.text)))
    for name in ("photos:thumb", "photos:preview"):
        answer = page.goto(reverse(name, args=[outcome["photo"]]))
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/")
        # The viewer's document shows the picture at its size: it decoded.
        assert page.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    page.goto(reverse("photos:detail", args=[outcome["photo"]]))  # a page, for comparison
    page.locator(".preview img").wait_for()
    errors = [text for kind, text in messages if kind == "error"]
    assert errors == []

    # Pages keep their strict policy; a picture's allows no script and nothing from elsewhere.
    page_policy = page.request.get(reverse("photos:gallery")).headers["content-security-policy"]
    assert "style-src 'self'" in page_policy and "unsafe-inline" not in page_policy
    for name in ("photos:thumb", "photos:download"):
        policy = page.request.get(reverse(name, args=[outcome["photo"]])).headers[
            "content-security-policy"
        ]
        assert "default-src 'none'" in policy and "script-src" not in policy
