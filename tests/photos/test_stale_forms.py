"""Stale tabs and re-sent forms (issue 24.6, photos) and counts that say what changed (24.7).
Ids deleted from this session answer "Already deleted"; every other unknown id, another
user's above all, still gets the plain 404 and changes nothing."""

import uuid

import pytest
from django.urls import reverse

from tests.photos import support
from tests.photos.uploads import upload
from vault.photos.models import Photo, Tag
from vault.photos.tagging import tags_store_from_model

pytestmark = pytest.mark.django_db

DELETE = reverse("photos:delete")
BULK = reverse("photos:tags_bulk")


def _text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def three(owner_client):
    outcomes = upload(
        owner_client, *[(f"p{i}.jpg", support.jpeg(support.picture(seed=i))) for i in range(3)]
    )
    return [outcome["photo"] for outcome in outcomes]


def _delete(client, ids, **extra):
    return client.post(DELETE, {"photo": ids, "confirm": "yes", **extra}, follow=True)


def test_delete_sent_again_says_already_deleted(owner_client, three):
    assert "Moved 1 photo to the trash" in _text(_delete(owner_client, three[:1]))
    again = _delete(owner_client, three[:1])
    assert again.status_code == 200
    assert again.redirect_chain[-1][0] == reverse("photos:gallery")
    assert "Already deleted" in _text(again)


def test_a_selection_with_one_already_deleted_deletes_the_rest(owner_client, three):
    _delete(owner_client, three[:1])
    response = _delete(owner_client, three)
    assert "Moved 2 photos to the trash (restore within 30 days). 1 was already deleted." in _text(
        response
    )
    assert Photo.objects.filter(pk__in=three, trashed_at=None).count() == 0


def test_tagging_a_photo_deleted_in_another_tab_says_already_deleted(owner_client, three):
    _delete(owner_client, three[:1])
    url = reverse("photos:tags", args=[three[0]])
    response = owner_client.post(url, {"label": "vehicle", "action": "add"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("photos:gallery")
    assert "Already deleted" in _text(response)

    bulk = owner_client.post(
        BULK, {"photo": three[:2], "label": "vehicle", "action": "add"}, follow=True
    )
    assert "Added Vehicle to 1 photo. Already deleted" in _text(bulk)


def test_other_users_ids_still_get_the_plain_404(owner_client, other_client, three):
    _delete(owner_client, three[:1])
    for client, ids in ((other_client, three[1:2]), (other_client, three[:1])):
        assert client.post(DELETE, {"photo": ids, "confirm": "yes"}).status_code == 404
        url = reverse("photos:tags", args=[ids[0]])
        assert client.post(url, {"label": "vehicle", "action": "add"}).status_code == 404
    never = str(uuid.uuid4())
    assert owner_client.post(DELETE, {"photo": [never], "confirm": "yes"}).status_code == 404
    assert Photo.objects.filter(pk__in=three[1:]).count() == 2


def test_the_single_photo_confirmation_keeps_it_and_returns_to_the_photo(owner_client, three):
    html = _text(owner_client.post(DELETE, {"photo": three[:1], "from": "photo"}))
    detail = reverse("photos:detail", args=[three[0]])
    assert f'<a class="button" href="{detail}">Keep it</a>' in html
    many = _text(owner_client.post(DELETE, {"photo": three[:2]}))
    assert f'<a class="button" href="{reverse("photos:gallery")}">Keep them</a>' in many


def test_added_counts_only_photos_that_changed(owner_client, three):
    first = Photo.objects.get(pk=three[0])
    tags_store_from_model(photo=first, model_id="m@1", labels=[("vehicle", 0.9)])
    response = owner_client.post(
        BULK, {"photo": three, "label": "vehicle", "action": "add"}, follow=True
    )
    assert "Added Vehicle to 2 photos (1 had it already)." in _text(response)
    assert Tag.objects.filter(label="vehicle", source=Tag.USER).count() == 3
    response = owner_client.post(
        BULK, {"photo": three[:1], "label": "fruit", "action": "remove"}, follow=True
    )
    assert "Removed Fruit from 0 photos (1 did not have it)." in _text(response)


def test_the_page_of_a_photo_deleted_in_another_tab_leads_to_the_gallery(owner_client, three):
    _delete(owner_client, three[:1])
    response = owner_client.get(reverse("photos:detail", args=[three[0]]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("photos:gallery")
    assert "Already deleted" in _text(response)
