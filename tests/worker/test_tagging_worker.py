"""Tagging on real worker processes with the committed default model: photos get sensible
tags, the model is loaded once per worker (not per job), and photos already in the vault are
brought up to date on their owner's next visit without touching what the user set."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo, Tag
from vault.photos.seen_by import active_tagger_id
from vault.photos.tagging import tags_set_by_user
from vault.processing.worker_keys import live_worker_keys
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    return settings.VAULT_DATA_DIR


def _signed_in(owner) -> Client:
    client = Client()
    sign_in(client, owner, PASSWORD)
    return client


def _labels(photo_id) -> set[str]:
    visible = Tag.objects.filter(photo_id=photo_id, rejected=False)
    return set(visible.values_list("label", flat=True))


def test_one_worker_tags_two_photos_and_loads_the_tagger_once(owner, start_worker):
    worker = start_worker()
    wait_until(live_worker_keys, timeout=60)
    client = _signed_in(owner)
    outcomes = upload(
        client,
        ("cat.jpg", support.real_photo_jpeg("chelsea.png")),
        ("motorbike.jpg", support.real_photo_jpeg("motorcycle_left.png")),
    )
    ids = [outcome["photo"] for outcome in outcomes]
    wait_until(lambda: Photo.objects.filter(pk__in=ids, state="ready").count() == 2, timeout=120)
    model_id = active_tagger_id()[0]
    assert model_id is not None
    cat, motorbike = (Photo.objects.get(pk=pk) for pk in ids)
    assert cat.tagged_by == motorbike.tagged_by == model_id
    assert "animal" in _labels(cat.id)
    assert "vehicle" in _labels(motorbike.id)
    assert set(Tag.objects.filter(photo_id__in=ids).values_list("source", flat=True)) == {model_id}
    # Loaded when the worker started, and never again for either job.
    assert worker.output().count(f"loaded tagger model {model_id}") == 1
    assert worker.output().count("tag(s) by") == 2


def test_old_photos_are_tagged_on_the_owners_next_visit_keeping_user_corrections(
    owner, start_worker
):
    start_worker()
    wait_until(live_worker_keys, timeout=60)
    client = _signed_in(owner)
    outcomes = upload(
        client,
        ("cat.jpg", support.real_photo_jpeg("chelsea.png")),
        ("rocket.jpg", support.real_photo_jpeg("rocket.jpg")),
    )
    ids = [outcome["photo"] for outcome in outcomes]
    wait_until(lambda: Photo.objects.filter(pk__in=ids, tagged_by__gt="").count() == 2, timeout=120)
    model_id = active_tagger_id()[0]

    # As if processed before tagging existed (or by an older model): no model tags, and the
    # user has already said this is a vehicle and not an animal.
    Tag.objects.filter(photo_id__in=ids).delete()
    Photo.objects.filter(pk__in=ids).update(tagged_by="")
    cat_id, rocket_id = ids
    tags_set_by_user(user=owner, photo_ids=[rocket_id], label="vehicle", present=True)
    tags_set_by_user(user=owner, photo_ids=[cat_id], label="animal", present=False)

    response = client.get(reverse("photos:gallery"))  # the owner's visit grants them
    assert response.status_code == 200
    wait_until(
        lambda: Photo.objects.filter(pk__in=ids, tagged_by=model_id).count() == 2, timeout=120
    )
    assert Photo.objects.filter(pk__in=ids, state="ready").count() == 2  # visible throughout
    assert not Photo.objects.get(pk=cat_id).grants.exists()
    # The user's "not an animal" stands; the user's "vehicle" stands.
    assert "animal" not in _labels(cat_id)
    assert Tag.objects.get(photo_id=cat_id, label="animal").source == Tag.USER
    assert Tag.objects.get(photo_id=rocket_id, label="vehicle").source == Tag.USER
    assert _labels(cat_id)  # the model gave something else (or other), never nothing


def test_a_model_file_that_fails_its_checksum_tags_nothing(owner, start_worker, settings, tmp_path):
    import shutil

    bad = tmp_path / "models"
    shutil.copytree(settings.VAULT_MODELS_DIR, bad)
    model = next(bad.glob("tagger-*.keras"))
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped
    model.write_bytes(bytes(data))
    settings.VAULT_MODELS_DIR = bad
    worker = start_worker(VAULT_MODELS_DIR=str(bad))
    wait_until(live_worker_keys, timeout=60)
    client = _signed_in(owner)
    [outcome] = upload(client, ("cat.jpg", support.real_photo_jpeg("chelsea.png")))
    wait_until(lambda: Photo.objects.filter(pk=outcome["photo"], state="ready").exists(), 120)
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.tagged_by == "" and not photo.tags.exists()  # no random labels
    assert "does not match its card" in worker.output()
    assert "loaded tagger model" not in worker.output()
    body = client.get("/healthz").json()
    assert body["models"]["tagger"]["ok"] is False
    assert "does not match" in body["models"]["tagger"]["error"]
