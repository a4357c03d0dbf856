"""Counts over the whole library (tag chips, the tagging status) are cached per library change,
and the owner-visit work runs once per visit: the counts must stay right whoever changes the
library (web, worker, bulk updates, deletes), and the visit work must still happen when it is
needed (a worker restarted, photos changed)."""

from __future__ import annotations

import pickle
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.albums.conftest import member, owner_photos  # noqa: F401 - fixtures
from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from vault.photos import library_counts, model_status, owner_visit, scheduling, selectors
from vault.photos.models import LibraryChange, Photo, ProcessingGrant, Tag
from vault.photos.tagging import tags_set_by_user
from vault.processing.worker_keys import advertise, withdraw
from worker import identity

pytestmark = pytest.mark.django_db

MODEL = "test-tagger@0123456789ab"


def new_photo(owner, number: int, *, labels=(), state=Photo.State.READY) -> Photo:
    photo = Photo.objects.create(
        owner=owner,
        state=state,
        media_type="image/jpeg",
        size=1,
        content_mac=number.to_bytes(32, "big"),
        name_sealed=b"x",
    )
    Tag.objects.bulk_create([Tag(photo=photo, label=label, source=MODEL) for label in labels])
    return photo


def chip_counts(client) -> dict[str, int]:
    html = client.get(reverse("photos:gallery")).content.decode()
    return {
        label: int(count)
        for label, count in re.findall(
            r'data-tag="(\w+)".*?class="chip-count">(\d+)<', html, flags=re.S
        )
    }


def test_tag_counts_stay_right_as_photos_are_added_tagged_and_deleted(owner, other_user):
    cat = new_photo(owner, 1, labels=["animal"])
    assert selectors.tag_counts(user=owner) == {"animal": 1}
    # Written the way the worker writes (bulk inserts, no model signals): still counted.
    dog = new_photo(owner, 2, labels=["animal", "landscape"])
    assert selectors.tag_counts(user=owner) == {"animal": 2, "landscape": 1}
    tags_set_by_user(user=owner, photo_ids=[cat.id], label="animal", present=False)
    assert selectors.tag_counts(user=owner) == {"animal": 1, "landscape": 1}
    Tag.objects.filter(photo=dog, label="landscape").update(label="vehicle")
    assert selectors.tag_counts(user=owner) == {"animal": 1, "vehicle": 1}
    under_filter = {"tag": ["animal"]}
    assert selectors.tag_counts(user=owner, filters=under_filter) == {"animal": 1, "vehicle": 1}
    dog.delete()
    assert selectors.tag_counts(user=owner) == {}
    assert selectors.tag_counts(user=owner, filters=under_filter) == {}
    # Another user's library is another count.
    new_photo(other_user, 3, labels=["fruit"])
    assert selectors.tag_counts(user=owner) == {}
    assert selectors.tag_counts(user=other_user) == {"fruit": 1}


def test_counts_are_not_recounted_while_nothing_changes(owner, django_assert_num_queries):
    new_photo(owner, 1, labels=["animal"])
    selectors.tag_counts(user=owner)
    model_status.model_status(user=owner)
    # The library version, once for each, and whether a partner's library is shown: no count.
    with django_assert_num_queries(3):
        assert selectors.tag_counts(user=owner) == {"animal": 1}
        assert model_status.model_status(user=owner).total == 1
    # A progress report of the worker changes nothing the counts read.
    version = library_counts.library_version(user=owner)
    Photo.objects.filter(owner=owner).update(progress=50)
    assert library_counts.library_version(user=owner) == version


def test_tagging_status_follows_processing_and_tagging(owner, settings, tmp_path):
    photo = new_photo(owner, 1, state=Photo.State.PROCESSING)
    assert model_status.model_status(user=owner).total == 0
    Photo.objects.filter(pk=photo.pk).update(state=Photo.State.READY)
    status = model_status.model_status(user=owner)
    assert status.total == 1
    if status.model_id:  # the shipped tagger's card is in models/
        assert status.to_update == 1
        Photo.objects.filter(pk=photo.pk).update(tagged_by=status.model_id)
        assert model_status.model_status(user=owner).to_update == 0


def test_the_change_log_stays_short_and_counts_stay_right(owner):
    for number in range(library_counts.PRUNE_ABOVE + 5):
        new_photo(owner, number, labels=["other"])
    assert selectors.tag_counts(user=owner) == {"other": library_counts.PRUNE_ABOVE + 5}
    version = library_counts.library_version(user=owner)
    assert library_counts.library_changes_prune(user=owner) > library_counts.PRUNE_ABOVE
    assert LibraryChange.objects.filter(owner_id=owner.pk).count() == 1
    assert library_counts.library_version(user=owner) != version
    Photo.objects.filter(owner=owner).first().delete()
    assert selectors.tag_counts(user=owner) == {"other": library_counts.PRUNE_ABOVE + 4}


def test_the_gallery_chips_count_new_photos_at_once(owner_client, owner):
    new_photo(owner, 1, labels=["animal"])
    assert chip_counts(owner_client)["animal"] == 1
    new_photo(owner, 2, labels=["animal"])
    assert chip_counts(owner_client)["animal"] == 2


def test_the_cache_holds_no_name_or_place(owner_client, owner, worker_key):
    """Attack: read everything the cache holds after the owner browsed; no filename, EXIF
    field or sealed value may be there in clear."""
    cache.clear()
    data = support.jpeg(taken="2021:03:04 05:06:07", gps=(48.8566, 2.3522))
    [outcome] = upload(owner_client, ("secret-holiday-name.jpg", data))
    assert run_jobs() == ["ready"]
    for url in ("photos:gallery", "photos:tagging_status"):
        owner_client.get(reverse(url))
    owner_client.get(reverse("photos:gallery"), {"tag": "human", "date_from": "2021-01-01"})
    stored = b"".join(
        key.encode() + pickle.dumps(value)
        for key, value in cache._cache.items()  # LocMemCache: every entry, pickled
    )
    assert stored, "the gallery cached nothing: this test would prove nothing"
    for secret in (b"secret-holiday-name", b"48.85", b"2.352", b"48,85"):
        assert secret not in stored
    assert outcome["photo"].replace("-", "").encode() not in stored


# The owner-visit work, once per visit


@pytest.fixture
def regrants(monkeypatch):
    """How many times the owner-visit work ran (the real function still runs)."""
    calls = []
    real = scheduling.owner_visit_work

    def counting(**kwargs):
        calls.append(kwargs["user"].pk)
        return real(**kwargs)

    monkeypatch.setattr(scheduling, "owner_visit_work", counting)
    return calls


def test_the_visit_work_runs_once_per_visit_not_on_every_page_and_poll(
    owner_client, owner, worker_key, regrants
):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    regrants.clear()
    gallery = reverse("photos:gallery")
    owner_client.get(gallery)
    owner_client.get(gallery, {"page": 2}, HTTP_X_VAULT_PARTIAL="1")
    owner_client.get(reverse("photos:status"), {"id": outcome["photo"]})
    owner_client.get(reverse("photos:tagging_status"))
    owner_client.get(gallery, {"tag": "animal"})
    assert len(regrants) == 1
    # The photo is processed: its grant is gone and the library changed, so the next poll runs
    # the work again (the next batch to grant, a clustering run to start); then it rests.
    assert run_jobs() == ["ready"]
    owner_client.get(reverse("photos:tagging_status"))
    assert len(regrants) == 2
    owner_client.get(reverse("photos:tagging_status"))
    owner_client.get(gallery)
    assert len(regrants) == 2


def test_the_visit_work_runs_again_when_a_worker_restarts(owner_client, owner, worker_key):
    """The worker holding the photo's grant died before processing it and another started:
    the owner's next poll grants the photo to the new worker, although a visit just ran."""
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo = Photo.objects.get(pk=outcome["photo"])
    status = reverse("photos:status")
    owner_client.get(status, {"id": str(photo.id)})
    assert photo.grants.get().worker_key_id == worker_key.key_id
    withdraw(worker_key.public_key)
    identity.forget()
    restarted = identity.current()
    advertise(restarted.public_key, ttl=60)
    try:
        owner_client.get(status, {"id": str(photo.id)})
        assert restarted.key_id in set(photo.grants.values_list("worker_key_id", flat=True))
    finally:
        withdraw(restarted.public_key)


def test_the_visit_work_runs_again_when_the_library_changed_or_time_passed(
    owner_client, owner, worker_key, regrants, monkeypatch
):
    gallery = reverse("photos:gallery")
    owner_client.get(gallery)
    assert len(regrants) == 1
    new_photo(owner, 1, state=Photo.State.PENDING)  # e.g. uploaded from another device
    owner_client.get(gallery)
    assert len(regrants) == 2
    assert ProcessingGrant.objects.filter(photo__owner=owner).count() == 0  # no original: failed
    owner_client.get(gallery)
    assert len(regrants) == 2
    later = owner_visit.time.time() + owner_visit.VISIT_EVERY + 1
    monkeypatch.setattr(owner_visit.time, "time", lambda: later)
    owner_client.get(gallery)
    assert len(regrants) == 3


def test_a_deleted_account_leaves_no_change_rows(owner, other_user):
    from vault.accounts.services import account_delete

    new_photo(owner, 1, labels=["animal"])
    new_photo(other_user, 2, labels=["animal"])
    assert LibraryChange.objects.filter(owner_id=owner.pk).exists()
    owner_pk = owner.pk
    account_delete(user=owner)
    assert not LibraryChange.objects.filter(owner_id=owner_pk).exists()
    assert selectors.tag_counts(user=other_user) == {"animal": 1}


def test_counts_under_a_date_filter_follow_a_new_capture_time(owner):
    """The worker reads a photo's metadata again and moves it to another day: the chips under
    a date filter count it on its new day."""
    import datetime as dt

    photo = new_photo(owner, 1, labels=["animal"])
    Photo.objects.filter(pk=photo.pk).update(shown_local=dt.datetime(2020, 5, 1, 12))
    in_2021 = {"date_from": dt.date(2021, 1, 1), "date_to": dt.date(2021, 12, 31)}
    assert selectors.tag_counts(user=owner, filters=in_2021) == {}
    Photo.objects.filter(pk=photo.pk).update(shown_local=dt.datetime(2021, 5, 1, 12))
    assert selectors.tag_counts(user=owner, filters=in_2021) == {"animal": 1}


def test_counts_follow_the_trash(owner):
    from vault.photos.trash import photos_restore, photos_trash

    photo = new_photo(owner, 1, labels=["animal"])
    assert selectors.tag_counts(user=owner) == {"animal": 1}
    photos_trash(user=owner, photo_ids=[photo.id])
    assert selectors.tag_counts(user=owner) == {}
    from tests.people.faces_support import keyring_of
    from tests.users import PASSWORD

    photos_restore(user=owner, keyring=keyring_of(owner, PASSWORD), photo_ids=[photo.id])
    assert selectors.tag_counts(user=owner) == {"animal": 1}


def test_a_partners_photos_count_in_the_chips_and_follow_the_partners_changes(
    owner,
    owner_client,
    worker_key,
    member,  # noqa: F811 - fixtures
    owner_photos,  # noqa: F811 - fixtures
):
    """The member shows the owner's library in their gallery: the chips count the owner's
    photos too, and follow a tag the owner adds, although the member's own library is still."""
    owner_client.post(reverse("albums:partner_start"), {"email": member.email})
    before = selectors.tag_counts(user=member).get("fruit", 0)
    tags_set_by_user(user=owner, photo_ids=[owner_photos[0].id], label="fruit", present=True)
    assert selectors.tag_counts(user=member).get("fruit", 0) == before + 1
