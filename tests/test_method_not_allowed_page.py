"""POST-only addresses opened directly get the site's plain page, not a blank 405 (24.7)."""

import pytest
from django.urls import reverse

from tests.test_error_pages import assert_plain_page
from tests.users import PASSWORD
from vaultdev.signin import sign_in

POST_ONLY = ["photos:delete", "photos:tags_bulk", "accounts:logout", "accounts:backup_codes"]


@pytest.mark.parametrize("name", POST_ONLY)
def test_a_post_only_address_opened_directly_gets_a_plain_page(client, owner, name):
    sign_in(client, owner, PASSWORD)
    response = client.get(reverse(name))
    body = assert_plain_page(response, 405, "This address is not a page")
    assert response["Allow"] == "POST"
    assert "Nothing was changed." in body


def test_signed_out_it_is_the_same_page(client, db):
    response = client.get(reverse("accounts:logout"))
    assert_plain_page(response, 405, "This address is not a page")
