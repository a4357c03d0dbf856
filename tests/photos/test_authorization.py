"""Another user gets 404 for every photo URL and cannot change anything; anonymous visitors
are sent to the login page."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from vault.photos.models import Photo

pytestmark = pytest.mark.django_db

READ_URLS = ["photos:detail", "photos:thumb", "photos:preview", "photos:download"]


@pytest.fixture
def owners_photo(owner_client, worker_key):
    [outcome] = upload(owner_client, ("mine.jpg", support.jpeg()))
    run_jobs()
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "ready"
    return photo


@pytest.mark.parametrize("name", READ_URLS)
def test_other_user_gets_404_for_every_read(other_client, owners_photo, owner_client, name):
    url = reverse(name, args=[owners_photo.id])
    assert owner_client.get(url).status_code == 200  # the owner can
    assert other_client.get(url).status_code == 404


def test_other_user_cannot_delete_or_retry(other_client, owners_photo, other_user):
    Photo.objects.filter(pk=owners_photo.pk).update(state="failed", failure_reason="x")
    # A batch that mixes one of theirs with one of the other user's deletes nothing.
    [their_own] = upload(other_client, ("theirs.png", support.png()))
    ids = [str(owners_photo.id), their_own["photo"]]
    for data in ({"photo": ids}, {"photo": ids, "confirm": "yes"}):
        assert other_client.post(reverse("photos:delete"), data).status_code == 404
    assert other_client.post(reverse("photos:retry", args=[owners_photo.id])).status_code == 404
    assert Photo.objects.filter(pk__in=ids).count() == 2
    assert Photo.objects.get(pk=owners_photo.pk).state == "failed"


def photo_routes() -> list[str]:
    """Every photos route that names one photo, read from the URL configuration so that a new
    route cannot be left out of the test below."""
    from vault.photos import urls

    return [
        f"photos:{route.name}"
        for route in urls.urlpatterns
        if "photo_id" in route.pattern.converters
    ]


def test_every_route_that_names_a_photo_is_in_the_test():
    assert set(photo_routes()) >= {*READ_URLS, "photos:retry", "photos:tags"}


@pytest.mark.parametrize("name", photo_routes())
def test_other_user_gets_404_from_every_route_that_names_a_photo(other_client, owners_photo, name):
    from vault.photos.models import Tag

    url = reverse(name, args=[owners_photo.id])
    response = other_client.get(url)
    if response.status_code == 405:  # a POST-only route: ask the way its form does
        response = other_client.post(url, {"label": "animal", "action": "add"})
    assert response.status_code == 404
    assert Photo.objects.get(pk=owners_photo.pk).state == "ready"
    assert not Tag.objects.filter(photo=owners_photo, source=Tag.USER).exists()


def test_other_user_cannot_bulk_tag(other_client, owners_photo):
    from vault.photos.models import Tag

    [their_own] = upload(other_client, ("theirs.png", support.png()))
    ids = [str(owners_photo.id), their_own["photo"]]
    for action in ("add", "remove"):
        data = {"photo": ids, "label": "animal", "action": action}
        assert other_client.post(reverse("photos:tags_bulk"), data).status_code == 404
    assert not Tag.objects.filter(source=Tag.USER).exists()


def test_status_of_another_users_photo_is_indistinguishable_from_none(other_client, owners_photo):
    import uuid

    made_up = str(uuid.uuid4())
    body = other_client.get(
        reverse("photos:status"), {"id": [str(owners_photo.id), made_up, "junk"]}
    ).json()["photos"]
    assert (
        body[str(owners_photo.id)]
        == body[made_up]
        == {
            "state": "missing",
            "label": "Not found",
            "progress": 0,
        }
    )


def test_other_users_gallery_does_not_list_the_photo(other_client, owners_photo):
    html = other_client.get(reverse("photos:gallery")).content.decode()
    assert str(owners_photo.id) not in html and "Your vault is empty" in html


@pytest.mark.parametrize("name", READ_URLS)
def test_anonymous_visitors_are_sent_to_log_in(owners_photo, name):
    from django.test import Client

    response = Client().get(reverse(name, args=[owners_photo.id]))
    assert response.status_code == 302 and "/accounts/login" in response["Location"]


def test_malformed_ids_are_404_not_errors(owner_client):
    assert owner_client.get("/photos/not-a-uuid/thumb").status_code == 404
    response = owner_client.post(reverse("photos:delete"), {"photo": ["../../etc"]})
    assert response.status_code == 404
