"""How the people app plugs into the photo pages without photos ever importing people (DESIGN
§3): a due clustering run starts on the owner's visits, and the gallery filters by person."""

from __future__ import annotations

# Named people offered as chips in the gallery's filters (the most photographed); the rest are
# a click away on the people page, or its "Show in the gallery".
PERSON_CHIPS = 12


def _current_person_id(user, person_id):
    """The person's id, or for one the owner merged away, the id of the person it became."""
    from vault.people.merges import person_forwarded
    from vault.people.models import Person

    if Person.objects.filter(owner=user, pk=person_id).exists():
        return person_id
    target = person_forwarded(user=user, person_id=person_id)
    return target.pk if target is not None else person_id


def _person_photo_ids(user, person_id):
    from vault.people.models import Face

    person_id = _current_person_id(user, person_id)
    return Face.objects.filter(owner=user, person_id=person_id, not_a_face=False).values("photo_id")


def _describe_person(user, keyring, person_id) -> str | None:
    from vault.people.models import Person
    from vault.people.sealing import name_open

    person_id = _current_person_id(user, person_id)
    person = Person.objects.filter(owner=user, pk=person_id).only("id", "name_sealed").first()
    if person is None:
        return None
    return name_open(keyring.metadata_key, person) or "Unnamed person"


def _person_options(user, keyring, photos, narrowed: bool):
    """The PERSON_CHIPS named, visible people with most faces, each with how many of `photos`
    (the gallery under its other filters) they are in; names opened here, never stored."""
    from django.db.models import Count

    from vault.people.models import Face, Person
    from vault.people.sealing import name_open
    from vault.people.selectors import people_by_size
    from vault.photos.photo_sets import SetOption

    top = people_by_size(
        user=user,
        where="AND p.name_sealed IS NOT NULL AND NOT p.hidden",
        order=" ORDER BY n DESC, p.id LIMIT %(limit)s",
        limit=PERSON_CHIPS,
    )
    if not top:
        return []
    ids = [row[0] for row in top]
    shown = Face.objects.filter(
        owner=user, not_a_face=False, person_id__in=ids, photo__trashed_at__isnull=True
    )
    if narrowed:
        shown = shown.filter(photo_id__in=photos.order_by().values("pk"))
    counts = dict(
        shown.values_list("person_id").annotate(n=Count("photo_id", distinct=True)).order_by()
    )
    people = Person.objects.filter(pk__in=ids).only("id", "name_sealed").in_bulk()
    options = [
        SetOption(str(pk), name_open(keyring.metadata_key, people[pk]) or "", counts.get(pk, 0))
        for pk in ids
        if pk in people
    ]
    return sorted(options, key=lambda o: (-o.count, o.label.casefold(), o.value))


def _start_due_clustering(*, user, keyring, workers) -> None:
    from vault.people.clustering_state import people_refresh

    people_refresh(user=user, keyring=keyring, workers=workers)


def _faces_panel(request, photo):
    """Who is in the photo, on its page: each face's crop, and its person's name or a link to
    say who it is."""
    from vault.people.selectors import faces_of_photo
    from vault.photos.photo_panels import Panel

    faces = faces_of_photo(
        user=request.user, photo=photo, metadata_key=request.keyring.metadata_key
    )
    if not faces:
        return None
    return Panel("people/_photo_faces.html", {"faces": faces})


def register() -> None:
    from vault.people import receivers  # noqa: F401 - connects the trash receivers
    from vault.photos import photo_panels, photo_sets
    from vault.processing import visits

    visits.on_owner_visit(_start_due_clustering)
    photo_panels.register(_faces_panel)
    photo_sets.register(
        photo_sets.PhotoSetFilter(
            key="person",
            photo_ids=_person_photo_ids,
            describe=_describe_person,
            options=_person_options,
            legend="People",
        )
    )
