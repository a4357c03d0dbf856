"""Decrypted pictures stay out of every cache, the browser's disk cache included: thumbnails,
previews, downloads and their byte ranges are sent with `Cache-Control: private, no-store` and
`Vary: Cookie`, unless VAULT_CACHE_DECRYPTED_SECONDS lets the browser keep thumbnails and
previews for a while."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.photos.test_broken_streams import photo_with_blobs
from vault.crypto.container import CHUNK

pytestmark = pytest.mark.django_db

ROUTES = {"thumb": "thumb", "preview": "preview", "download": "original"}
RANGES = [None, "bytes=0-99", f"bytes={CHUNK - 10}-{CHUNK + 10}", "bytes=-500"]


@pytest.fixture(autouse=True)
def _no_tagger(settings, tmp_path):
    settings.VAULT_MODELS_DIR = tmp_path / "no-models"  # never load TensorFlow here


@pytest.fixture
def photo(owner_client, owner):
    photo, plain = photo_with_blobs(owner_client, owner, dict.fromkeys(ROUTES.values(), 2 * CHUNK))
    return photo, plain


def fetch(client, route, photo_id, byte_range):
    headers = {"Range": byte_range} if byte_range else {}
    response = client.get(reverse(f"photos:{route}", args=[photo_id]), headers=headers)
    assert response.status_code == (206 if byte_range else 200)
    b"".join(response.streaming_content)
    return response


def directives(response) -> set[str]:
    return {part.strip() for part in response["Cache-Control"].split(",")}


def vary(response) -> set[str]:
    return {part.strip().lower() for part in response["Vary"].split(",")}


@pytest.mark.parametrize("byte_range", RANGES)
@pytest.mark.parametrize("route", ROUTES)
def test_every_decrypted_response_is_no_store_by_default(owner_client, photo, route, byte_range):
    response = fetch(owner_client, route, photo[0].id, byte_range)
    assert directives(response) == {"private", "no-store"}
    assert "cookie" in vary(response)


@pytest.mark.parametrize("byte_range", [None, "bytes=0-99"])
@pytest.mark.parametrize("route", ["thumb", "preview"])
def test_the_setting_lets_the_browser_keep_thumbnails_and_previews(
    owner_client, photo, settings, route, byte_range
):
    settings.VAULT_CACHE_DECRYPTED_SECONDS = 3600
    response = fetch(owner_client, route, photo[0].id, byte_range)
    assert directives(response) == {"private", "max-age=3600"}
    assert "cookie" in vary(response)


@pytest.mark.parametrize("byte_range", [None, "bytes=0-99"])
def test_originals_are_never_cached_whatever_the_setting(owner_client, photo, settings, byte_range):
    settings.VAULT_CACHE_DECRYPTED_SECONDS = 3600
    response = fetch(owner_client, "download", photo[0].id, byte_range)
    assert directives(response) == {"private", "no-store"}
    assert "cookie" in vary(response)


def test_zero_means_no_store(owner_client, photo, settings):
    settings.VAULT_CACHE_DECRYPTED_SECONDS = 0
    assert directives(fetch(owner_client, "thumb", photo[0].id, None)) == {"private", "no-store"}
