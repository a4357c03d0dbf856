"""The people pages: everyone (named people, unnamed groups, unassigned faces), one person
(their faces, review, photos), and one face."""

from __future__ import annotations

from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.people import merges, selectors, suggestions
from vault.people.clustering_state import clustering_status, people_refresh
from vault.people.forms import FaceActionForm, PersonNameForm
from vault.people.models import Face, FaceVeto
from vault.people.views.forwarding import forwards_merged
from vault.photos import photo_sets
from vault.processing.grants.base import live_workers

# Faces taken out of a person shown as "being regrouped" on its page, while a run is due.
REGROUPING_SHOWN = 24


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
    show_hidden = request.GET.get("hidden") == "1"
    status = clustering_status(user=user)
    return render(
        request,
        "people/list.html",
        {
            "page": selectors.people_for_page(
                user=user,
                metadata_key=key,
                number=_page_number(request),
                show_hidden=show_hidden,
            ),
            "show_hidden": show_hidden,
            "unassigned": unassigned[: selectors.UNASSIGNED_SHOWN],
            "more_unassigned": len(unassigned) > selectors.UNASSIGNED_SHOWN,
            "small_faces": selectors.faces_small_count(user=user),
            "status": status,
            "regrouping": status.waiting,
            "choices": selectors.people_choices(user=user, metadata_key=key),
            "name_form": PersonNameForm(),
        },
    )


@require_GET
@never_cache  # decrypted names
@keyring_required
def people_search(request):
    """Person pickers search as you type: {"people": [{"id", "label"}]}, named people only."""
    exclude = photo_sets.parse(request.GET.get("exclude"))
    query = request.GET.get("q", "")[:100]
    return JsonResponse(
        {
            "people": selectors.people_search(
                user=request.user,
                metadata_key=request.keyring.metadata_key,
                query=query,
                exclude=exclude,
            )
        }
    )


def _same_name_offer(request, card):
    """Another of the owner's people with this person's name, when the rename led here with
    `?same=` (the page then offers to merge them); None otherwise."""
    other_id = photo_sets.parse(request.GET.get("same"))
    if other_id is None or not card.name:
        return None
    alike = selectors.people_named_alike(
        user=request.user,
        metadata_key=request.keyring.metadata_key,
        name=card.name,
        exclude=card.id,
    )
    other = next((p for p in alike if p.pk == other_id), None)
    if other is None:
        return None
    return selectors.person_card(person=other, metadata_key=request.keyring.metadata_key)


def _undo_offer(request, person):
    """The owner's last merge, when it made this person and can still be undone."""
    from vault.people.views.actions import UNDO_SESSION_KEY

    merge_id = photo_sets.parse(request.session.get(UNDO_SESSION_KEY))
    if merge_id is None:
        return None
    merge = merges.merge_of_owner(user=request.user, merge_id=merge_id)
    if merge is None or merge.target_id != person.pk or merge.undo_sealed is None:
        return None
    return merge


def _regrouping(person, status):
    """Faces the owner took out of this person that wait for the next run to group them."""
    if not status.waiting:
        return []
    vetoed = FaceVeto.objects.filter(person=person).values("face_id")
    return list(
        Face.objects.filter(pk__in=vetoed, person=None, not_a_face=False, clustered=False)
        .select_related("photo")
        .defer("embedding_sealed", "photo__name_sealed", "photo__exif_sealed")
        .order_by("-created_at", "id")[:REGROUPING_SHOWN]
    )


@never_cache
@keyring_required
@forwards_merged
def person_detail(request, person_id):
    user, key = request.user, request.keyring.metadata_key
    person = selectors.person_of_owner(user=user, person_id=person_id)
    if refused := read_only(request):
        return refused
    card = selectors.person_card(person=person, metadata_key=key)
    number = _page_number(request)
    faces, more_faces = selectors.faces_page(selectors.person_faces(person=person), number=number)
    photos = list(
        selectors.person_photos(user=user, person=person).defer("name_sealed", "exif_sealed")[
            : selectors.PHOTOS_SHOWN + 1
        ]
    )
    named = card.name is not None
    merge_suggestions = (
        suggestions.person_merge_suggestions(person=person, metadata_key=key) if named else []
    )
    groups = selectors.person_cards(people=[s.group for s in merge_suggestions], metadata_key=key)
    status = clustering_status(user=user)
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
                suggestions.person_review_candidates(person=person, metadata_key=key)
                if named
                else []
            ),
            "suggestions": list(zip(merge_suggestions, groups, strict=True)),
            "same_name": _same_name_offer(request, card),
            "undo": _undo_offer(request, person),
            "regrouping": _regrouping(person, status),
            # Review and merge suggestions come with the next clustering run (the worker's).
            "suggestions_pending": named and status.waiting,
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
