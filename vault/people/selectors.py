"""Selectors: what the people pages read. Every query starts from the owner; another user's
person or face is looked up like one that does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from vault.people.models import Face, Person
from vault.people.sealing import name_open
from vault.photos.models import GALLERY_ORDER, Photo

# How much one page shows; the rest is a link or a "more" away. An owner with thousands of
# unnamed groups (a big first import) still gets a page that renders at once.
UNNAMED_SHOWN = 60
UNASSIGNED_SHOWN = 120
FACES_PAGE = 120
PHOTOS_SHOWN = 60

# A face the owner said is not a face counts for nothing anywhere in people.
_REAL = Q(faces__not_a_face=False)


@dataclass
class PersonCard:
    """One person as the pages show it."""

    person: Person
    name: str | None  # decrypted; None for an unnamed group
    face_count: int
    photo_count: int
    cover_id: object | None  # the face whose crop stands for the person (None: no face left)

    @property
    def id(self):
        return self.person.id

    @property
    def label(self) -> str:
        return self.name or "Unnamed"


@dataclass
class PeoplePage:
    named: list[PersonCard] = field(default_factory=list)
    unnamed: list[PersonCard] = field(default_factory=list)
    unnamed_total: int = 0
    hidden: list[PersonCard] = field(default_factory=list)


def person_of_owner(*, user, person_id) -> Person:
    """The person if it is this user's; 404 otherwise (never 403: others' ids do not exist)."""
    person = Person.objects.filter(owner=user, pk=person_id).first()
    if person is None:
        raise Http404("No such person")
    return person


def face_of_owner(*, user, face_id) -> Face:
    face = Face.objects.select_related("photo", "person").filter(owner=user, pk=face_id).first()
    if face is None:
        raise Http404("No such face")
    return face


def faces_check_owner(*, user, face_ids) -> None:
    """404 unless every id is one of the owner's faces (a request that names another user's
    face is refused whole, whatever else is wrong with it)."""
    ids = set(face_ids or ())
    if ids and Face.objects.filter(owner=user, pk__in=ids).count() != len(ids):
        raise Http404("No such face")


def _people_annotated(*, user) -> QuerySet[Person]:
    # The cover: the best-scoring face, preferring the ones large and sharp enough to cluster.
    cover = (
        Face.objects.filter(person=OuterRef("pk"), not_a_face=False)
        .order_by("-clusterable", "-score", "id")
        .values("id")[:1]
    )
    return Person.objects.filter(owner=user).annotate(
        face_count=Count("faces", filter=_REAL, distinct=True),
        photo_count=Count("faces__photo", filter=_REAL, distinct=True),
        cover_id=Subquery(cover),
    )


def _card(person: Person, metadata_key: bytes) -> PersonCard:
    return PersonCard(
        person=person,
        name=name_open(metadata_key, person),
        face_count=person.face_count,
        photo_count=person.photo_count,
        cover_id=person.cover_id,
    )


def _largest_first(card: PersonCard):
    return (-card.photo_count, -card.face_count, (card.name or "").casefold(), str(card.id))


def people_for_page(*, user, metadata_key: bytes) -> PeoplePage:
    """Named people largest first (photos, then faces), then unnamed groups largest first (the
    first UNNAMED_SHOWN of unnamed_total), and the hidden ones apart."""
    page = PeoplePage()
    cards = [_card(person, metadata_key) for person in _people_annotated(user=user)]
    for card in sorted(cards, key=_largest_first):
        if card.name is None and not card.face_count:
            continue  # its photos were deleted: the next clustering run removes the group
        if card.person.hidden:
            page.hidden.append(card)
        elif card.name is not None:
            page.named.append(card)
        else:
            page.unnamed.append(card)
    page.unnamed_total = len(page.unnamed)
    page.unnamed = page.unnamed[:UNNAMED_SHOWN]
    return page


def person_card(*, person: Person, metadata_key: bytes) -> PersonCard:
    return _card(_people_annotated(user=person.owner_id).get(pk=person.pk), metadata_key)


def people_choices(*, user, metadata_key: bytes, exclude=None) -> list[tuple[str, str]]:
    """(id, label) of all the owner's people for "Move to…" and "Merge into…": named ones by
    name, then unnamed groups largest first, labelled so that they can be told apart."""
    cards = [_card(person, metadata_key) for person in _people_annotated(user=user)]
    cards = [card for card in cards if exclude is None or str(card.id) != str(exclude)]
    named = sorted((c for c in cards if c.name), key=lambda c: (c.name.casefold(), str(c.id)))
    unnamed = sorted((c for c in cards if not c.name), key=_largest_first)
    choices = []
    for card in named + unnamed:
        hidden = " (hidden)" if card.person.hidden else ""
        if card.name:
            label = card.name
        else:
            label = f"Unnamed group, {card.face_count} face{'s' if card.face_count != 1 else ''}"
        choices.append((str(card.id), label + hidden))
    return choices


def person_photos(*, user, person: Person) -> QuerySet[Photo]:
    """The person's photos in gallery order (newest first)."""
    has_face = Face.objects.filter(photo=OuterRef("pk"), person=person, not_a_face=False)
    return Photo.objects.filter(owner=user).filter(Exists(has_face)).order_by(*GALLERY_ORDER)


def person_faces(*, person: Person) -> QuerySet[Face]:
    """The person's faces, the ones the owner placed first, then the best detections."""
    return (
        Face.objects.filter(person=person, not_a_face=False)
        .select_related("photo")
        .order_by("-assigned_by", "-score", "id")  # "user" > "auto" > "": the owner's first
    )


def faces_page(faces: QuerySet[Face], *, number: int) -> tuple[list[Face], bool]:
    start = (max(1, number) - 1) * FACES_PAGE
    rows = list(faces[start : start + FACES_PAGE + 1])
    return rows[:FACES_PAGE], len(rows) > FACES_PAGE


def faces_unassigned(*, user) -> QuerySet[Face]:
    """Faces in no person that the clustering may still group: newest photos first.

    Small or blurry detections (clusterable=False) are left out: they stay on their photo's
    page, but a wall of 20-pixel smudges would bury the faces worth naming."""
    return (
        Face.objects.filter(owner=user, person=None, not_a_face=False, clusterable=True)
        .select_related("photo")
        .order_by("-photo__shown_at", "-photo_id", "index")
    )


def faces_small_count(*, user) -> int:
    """Detections kept but not grouped (too small or too blurry)."""
    return Face.objects.filter(owner=user, not_a_face=False, clusterable=False).count()


@dataclass(frozen=True)
class PhotoFace:
    face: Face
    name: str | None  # its person's name; None when unnamed or in no person


def faces_of_photo(*, user, photo: Photo, metadata_key: bytes) -> list[PhotoFace]:
    """The faces found in one of the owner's photos, in detection order, with their people's
    names (for the photo page)."""
    faces = (
        Face.objects.filter(owner=user, photo=photo, not_a_face=False)
        .select_related("person")
        .order_by("index")
    )
    return [
        PhotoFace(face, name_open(metadata_key, face.person) if face.person else None)
        for face in faces
    ]
