"""The people pages: everyone (named people, unnamed groups, unassigned faces), one person
(their faces, review, photos), and one face."""

from __future__ import annotations

from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.people import review, selectors
from vault.people.clustering_state import clustering_status, people_refresh
from vault.people.forms import FaceActionForm, PersonNameForm
from vault.processing.grants.base import live_workers


def read_only(request):
    """None for GET/HEAD, else a 405. Called after the owner's object was looked up, so that
    another user's id is a 404 whatever the method (no route tells ids apart by method)."""
    if request.method in ("GET", "HEAD"):
        return None
    return HttpResponseNotAllowed(["GET", "HEAD"])


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), 100_000)
    except ValueError:
        return 1


def gallery_url(person_id) -> str:
    """The gallery filtered by this person (the gallery honours `person`)."""
    return f"{reverse('photos:gallery')}?person={person_id}"


@require_GET
@never_cache  # decrypted names
@keyring_required
def people_list(request):
    user, key = request.user, request.keyring.metadata_key
    # A visit is when the owner's key is here: start a clustering run if one is due.
    people_refresh(user=user, keyring=request.keyring, workers=live_workers())
    unassigned = list(selectors.faces_unassigned(user=user)[: selectors.UNASSIGNED_SHOWN + 1])
    return render(
        request,
        "people/list.html",
        {
            "page": selectors.people_for_page(user=user, metadata_key=key),
            "show_hidden": request.GET.get("hidden") == "1",
            "unassigned": unassigned[: selectors.UNASSIGNED_SHOWN],
            "more_unassigned": len(unassigned) > selectors.UNASSIGNED_SHOWN,
            "small_faces": selectors.faces_small_count(user=user),
            "status": clustering_status(user=user),
            "choices": selectors.people_choices(user=user, metadata_key=key),
            "name_form": PersonNameForm(),
        },
    )


@never_cache
@keyring_required
def person_detail(request, person_id):
    user, key = request.user, request.keyring.metadata_key
    person = selectors.person_of_owner(user=user, person_id=person_id)
    if refused := read_only(request):
        return refused
    card = selectors.person_card(person=person, metadata_key=key)
    number = _page_number(request)
    faces, more_faces = selectors.faces_page(selectors.person_faces(person=person), number=number)
    photos = list(selectors.person_photos(user=user, person=person)[: selectors.PHOTOS_SHOWN + 1])
    named = card.name is not None
    return render(
        request,
        "people/detail.html",
        {
            "card": card,
            "person": person,
            "name_form": PersonNameForm(initial={"name": card.name or ""}),
            "faces": faces,
            "faces_page": number,
            "more_faces": more_faces,
            "photos": photos[: selectors.PHOTOS_SHOWN],
            "more_photos": len(photos) > selectors.PHOTOS_SHOWN,
            "gallery_url": gallery_url(person.id),
            "choices": selectors.people_choices(user=user, metadata_key=key, exclude=person.id),
            "candidates": (
                review.review_candidates(person=person, metadata_key=key) if named else []
            ),
            "suggestions": [
                (suggestion, selectors.person_card(person=suggestion.group, metadata_key=key))
                for suggestion in (
                    review.merge_suggestions(user=user, metadata_key=key, person=person)
                    if named
                    else []
                )
            ],
        },
    )


@never_cache
@keyring_required
def face_detail(request, face_id):
    user, key = request.user, request.keyring.metadata_key
    face = selectors.face_of_owner(user=user, face_id=face_id)
    if refused := read_only(request):
        return refused
    card = selectors.person_card(person=face.person, metadata_key=key) if face.person else None
    return render(
        request,
        "people/face.html",
        {
            "face": face,
            "card": card,
            "choices": selectors.people_choices(
                user=user, metadata_key=key, exclude=face.person_id
            ),
            "form": FaceActionForm(),
        },
    )
