"""An end date before the start date says so and filters by neither date until it is fixed
(issue 24.7): the start date alone would look like an answer to what was asked."""

import pytest
from django.urls import reverse

from tests.photos.test_tags import album_make, ids_of, tile_ids

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_models(settings, tmp_path):
    settings.VAULT_MODELS_DIR = tmp_path / "models"
    settings.VAULT_MODELS_DIR.mkdir()


def test_a_reversed_range_says_so_and_filters_nothing(owner_client, worker_key):
    album = album_make(
        owner_client,
        [
            ("old.jpg", "2023:07:02 10:00:00", {"landscape": 0.8}),
            ("new.jpg", "2024:08:20 10:00:00", {"animal": 0.9}),
        ],
    )
    gallery = reverse("photos:gallery")
    backwards = owner_client.get(gallery, {"date_from": "2024-05-01", "date_to": "2024-01-01"})
    html = backwards.content.decode()
    assert "The end date is before the start date." in html
    assert "Dates are not applied until the range is fixed." in html
    assert sorted(tile_ids(backwards)) == sorted(ids_of(album, "old.jpg", "new.jpg"))

    # Tags still filter; and a range put right filters again.
    tagged = owner_client.get(
        gallery, {"tag": "animal", "date_from": "2024-05-01", "date_to": "2024-01-01"}
    )
    assert tile_ids(tagged) == ids_of(album, "new.jpg")
    fixed = owner_client.get(gallery, {"date_from": "2024-01-01", "date_to": "2024-12-31"})
    assert tile_ids(fixed) == ids_of(album, "new.jpg")
