"""How the people app plugs into the photo pages without photos ever importing people (DESIGN
§3): a due clustering run starts on the owner's visits, and the gallery filters by person."""

from __future__ import annotations


def _person_photo_ids(user, person_id):
    from vault.people.models import Face

    return Face.objects.filter(owner=user, person_id=person_id, not_a_face=False).values("photo_id")


def _describe_person(user, keyring, person_id) -> str | None:
    from vault.people.models import Person
    from vault.people.sealing import name_open

    person = Person.objects.filter(owner=user, pk=person_id).first()
    if person is None:
        return None
    return name_open(keyring.metadata_key, person) or "Unnamed person"


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
    from vault.photos import photo_panels, photo_sets
    from vault.processing import visits

    visits.on_owner_visit(_start_due_clustering)
    photo_panels.register(_faces_panel)
    photo_sets.register(
        photo_sets.PhotoSetFilter(
            key="person", photo_ids=_person_photo_ids, describe=_describe_person
        )
    )
