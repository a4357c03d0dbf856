"""Downloads in real Chromium: a name with accents, CJK or emoji is saved under that exact name
(filename*), and the ASCII fallback never reaches a browser that understands the exact one."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (Chromium saves '"' as "%22" whatever the header says: its unescaping keeps %22 escaped, and
# a raw quote it replaces. So no quote here; the header test covers them.)
NAMES = ["Été à Paris.jpg", "東京タワー 🗼.jpg", "Rock; paper, scissors 100%.jpg"]


def test_the_browser_saves_a_download_under_its_exact_name(page, owner):
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for seed, name in enumerate(NAMES):
        data = support.jpeg(support.picture(64, 48, seed=seed))
        response = page.request.post(
            reverse("photos:upload"),
            multipart={"photos": {"name": name, "mimeType": "image/jpeg", "buffer": data}},
            headers={"X-CSRFToken": token, "Accept": "application/json"},
        )
        [outcome] = response.json()["files"]
        assert outcome["status"] == "stored", outcome
        page.goto(reverse("photos:detail", args=[outcome["photo"]]))
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download original").click()
        assert download_info.value.suggested_filename == name
        with open(download_info.value.path(), "rb") as downloaded:
            assert downloaded.read() == data
