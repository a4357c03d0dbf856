"""The home page in real Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_loads_with_its_own_styles(page, live_server):
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto("/")
    assert response.status == 200
    assert page.title() == "Secure Photo Vault"
    assert page.get_by_role("heading", level=1).inner_text() == "Your photos, organised and private"
    # Our stylesheet, served by whitenoise, really applied (no CDN, nothing failed to load).
    header_background = page.eval_on_selector(
        ".site-header", "el => getComputedStyle(el).backgroundColor"
    )
    assert header_background == "rgb(255, 255, 255)"
    assert page.eval_on_selector(".content", "el => getComputedStyle(el).maxWidth") == "1200px"
    assert failed == []
