"""Selectors: what the people pages read. Every query starts from the owner; another user's
person or face is looked up like one that does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
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
# Nor does a face of a photo in the trash (until it is restored): for Face querysets.
LIVE = Q(photo__trashed_at__isnull=True)


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
    """One page of the people list: named people first (largest first), then unnamed groups
    (largest first), PEOPLE_PAGE at a time; hidden people only when asked for."""

    named: list[PersonCard] = field(default_factory=list)
    unnamed: list[PersonCard] = field(default_factory=list)
    number: int = 1
    has_next: bool = False
    named_total: int = 0
    unnamed_total: int = 0
    hidden_total: int = 0
    hidden: list[PersonCard] = field(default_factory=list)


PEOPLE_PAGE = 60
PICKER_NAMED = 30  # named people a picker lists before anything is typed
PICKER_UNNAMED = 10
SEARCH_RESULTS = 20


def person_of_owner(*, user, person_id) -> Person:
    """The person if it is this user's; 404 otherwise (never 403: others' ids do not exist)."""
    person = Person.objects.filter(owner=user, pk=person_id).defer("exemplars_sealed").first()
    if person is None:
        raise Http404("No such person")
    return person


def face_of_owner(*, user, face_id) -> Face:
    face = (
        Face.objects.select_related("photo", "person")
        .defer("embedding_sealed", "person__exemplars_sealed")
        .filter(owner=user, pk=face_id)
        .first()
    )
    if face is None:
        raise Http404("No such face")
    return face


def faces_check_owner(*, user, face_ids) -> None:
    """404 unless every id is one of the owner's faces (a request that names another user's
    face is refused whole, whatever else is wrong with it)."""
    ids = set(face_ids or ())
    if ids and Face.objects.filter(owner=user, pk__in=ids).count() != len(ids):
        raise Http404("No such face")


# Each person of the owner with its number of faces, one grouped index-only scan of the
# owner's faces (face_owner_person_real) joined to the people: no per-person subquery, and
# the sorting and paging happen in PostgreSQL, so a page of 60 never drags 5,000 rows into
# Python. Faces of photos in the trash are taken off (found through the owner's few trashed
# photos, index photo_trashed, not by joining every face to its photo). A group with no face
# left is skipped (the next clustering run removes it), and so is a named person whose faces
# are all in the trash (restoring brings it back).
_PEOPLE_BY_SIZE = """
    WITH sizes AS (
        SELECT person_id, COUNT(*) AS n FROM people_face
        WHERE owner_id = %(owner)s AND NOT not_a_face AND person_id IS NOT NULL
        GROUP BY person_id
    ), trashed AS (
        SELECT f.person_id, COUNT(*) AS n
        FROM photos_photo ph JOIN people_face f ON f.photo_id = ph.id
        WHERE ph.owner_id = %(owner)s AND ph.trashed_at IS NOT NULL
            AND NOT f.not_a_face AND f.person_id IS NOT NULL
        GROUP BY f.person_id
    ), live AS (
        SELECT s.person_id, s.n - COALESCE(t.n, 0) AS n, t.n IS NOT NULL AS some_trashed
        FROM sizes s LEFT JOIN trashed t ON t.person_id = s.person_id
    )
    SELECT p.id, p.hidden, p.name_sealed IS NULL AS unnamed, COALESCE(s.n, 0) AS n
    FROM people_person p LEFT JOIN live s ON s.person_id = p.id
    WHERE p.owner_id = %(owner)s
        AND (s.n > 0 OR (p.name_sealed IS NOT NULL AND s.some_trashed IS NOT TRUE)) {where}
"""


def people_by_size(*, user, where: str = "", order: str = "", **params) -> list[tuple]:
    """(id, hidden, unnamed, faces) rows of _PEOPLE_BY_SIZE with an extra condition and
    ORDER/LIMIT clause (fixed text from this module; values only through `params`)."""
    with connection.cursor() as cursor:
        cursor.execute(_PEOPLE_BY_SIZE.format(where=where) + order, {"owner": user.pk, **params})
        return cursor.fetchall()


def _cards(people: list[Person], metadata_key: bytes) -> list[PersonCard]:
    """Cards for these people in their order: counts in one grouped query, covers (the
    best-scoring face, preferring ones large and sharp enough to cluster) in one DISTINCT ON
    query; exemplars never read."""
    ids = [p.pk for p in people]
    counts = {
        row["person_id"]: row
        for row in Face.objects.filter(LIVE, person_id__in=ids, not_a_face=False)
        .values("person_id")
        .annotate(faces=Count("id"), photos=Count("photo_id", distinct=True))
        .order_by()
    }
    covers = dict(
        Face.objects.filter(LIVE, person_id__in=ids, not_a_face=False)
        .order_by("person_id", "-clusterable", "-score", "id")
        .distinct("person_id")
        .values_list("person_id", "id")
    )
    cards = []
    for person in people:
        row = counts.get(person.pk, {"faces": 0, "photos": 0})
        cards.append(
            PersonCard(
                person=person,
                name=name_open(metadata_key, person),
                face_count=row["faces"],
                photo_count=row["photos"],
                cover_id=covers.get(person.pk),
            )
        )
    return cards


def _people_rows(*, user, ids) -> list[Person]:
    by_id = Person.objects.filter(owner=user, pk__in=list(ids)).defer("exemplars_sealed").in_bulk()
    return [by_id[pk] for pk in ids if pk in by_id]


def people_for_page(
    *, user, metadata_key: bytes, number: int = 1, show_hidden: bool = False
) -> PeoplePage:
    """Page `number` of the owner's people: named people largest first, then unnamed groups
    largest first, PEOPLE_PAGE at a time; the hidden ones apart (all of them, when
    `show_hidden`)."""
    number = max(1, number)
    rows = people_by_size(
        user=user,
        where="AND NOT p.hidden",
        order=" ORDER BY unnamed, n DESC, p.id LIMIT %(limit)s OFFSET %(offset)s",
        limit=PEOPLE_PAGE + 1,
        offset=(number - 1) * PEOPLE_PAGE,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hidden, unnamed, COUNT(*) FROM ("  # noqa: S608 - this module's own text
            + _PEOPLE_BY_SIZE.format(where="")
            + ") AS people GROUP BY hidden, unnamed",
            {"owner": user.pk},
        )
        totals = {(hidden, unnamed): count for hidden, unnamed, count in cursor.fetchall()}
    page = PeoplePage(
        number=number,
        has_next=len(rows) > PEOPLE_PAGE,
        named_total=totals.get((False, False), 0),
        unnamed_total=totals.get((False, True), 0),
        hidden_total=totals.get((True, False), 0) + totals.get((True, True), 0),
    )
    rows = rows[:PEOPLE_PAGE]
    unnamed_ids = {pk for pk, _hidden, unnamed, _n in rows if unnamed}
    for card in _cards(_people_rows(user=user, ids=[row[0] for row in rows]), metadata_key):
        (page.unnamed if card.person.pk in unnamed_ids else page.named).append(card)
    if show_hidden:
        hidden = people_by_size(
            user=user, where="AND p.hidden", order=" ORDER BY unnamed, n DESC, p.id"
        )
        page.hidden = _cards(_people_rows(user=user, ids=[row[0] for row in hidden]), metadata_key)
    return page


def person_card(*, person: Person, metadata_key: bytes) -> PersonCard:
    [card] = _cards([person], metadata_key)
    return card


def person_cards(*, people: list[Person], metadata_key: bytes) -> list[PersonCard]:
    return _cards(people, metadata_key)


def _unnamed_label(face_count: int) -> str:
    return f"Unnamed group, {face_count} face{'s' if face_count != 1 else ''}"


def people_choices(*, user, metadata_key: bytes, exclude=None) -> list[tuple[str, str]]:
    """(id, label) that a person picker lists before anything is typed ("Move to…", "Merge
    into…"): the PICKER_NAMED largest named people by name, then the PICKER_UNNAMED largest
    unnamed groups, labelled so that they can be told apart. Typing searches every named
    person (people_search); without JavaScript these are the choices."""
    other = "AND p.id <> %(exclude)s" if exclude is not None else ""
    named = people_by_size(
        user=user,
        where=f"AND p.name_sealed IS NOT NULL {other}",
        order=" ORDER BY n DESC, p.id LIMIT %(limit)s",
        limit=PICKER_NAMED,
        exclude=exclude,
    )
    unnamed = people_by_size(
        user=user,
        where=f"AND p.name_sealed IS NULL {other}",
        order=" ORDER BY n DESC, p.id LIMIT %(limit)s",
        limit=PICKER_UNNAMED,
        exclude=exclude,
    )
    people = Person.objects.filter(owner=user, pk__in=[row[0] for row in named]).only(
        "id", "name_sealed", "hidden"
    )
    labelled = sorted(
        ((name_open(metadata_key, p) or "", p) for p in people),
        key=lambda pair: (pair[0].casefold(), str(pair[1].pk)),
    )
    choices = [(str(p.pk), name + (" (hidden)" if p.hidden else "")) for name, p in labelled]
    for pk, hidden, _unnamed, faces in unnamed:
        choices.append((str(pk), _unnamed_label(faces) + (" (hidden)" if hidden else "")))
    return choices


def _only_in_trash() -> Exists:
    """For Person querysets: has faces, and every one is of a photo in the trash."""
    faces = Face.objects.filter(person=OuterRef("pk"), not_a_face=False)
    return Exists(faces.filter(photo__trashed_at__isnull=False)) & ~Exists(faces.filter(LIVE))


def people_search(*, user, metadata_key: bytes, query: str, exclude=None) -> list[dict]:
    """Named people whose name contains `query` (case-insensitive; names starting with it
    first; none whose faces are all in the trash), at most SEARCH_RESULTS, as {"id", "label"}.
    Names are sealed, so each is opened here with the session's metadata key (~20 µs each);
    exemplars are never read."""
    wanted = " ".join(query.split()).casefold()
    people = Person.objects.filter(owner=user, name_sealed__isnull=False).only(
        "id", "name_sealed", "hidden"
    )
    if exclude is not None:
        people = people.exclude(pk=exclude)
    people = people.exclude(_only_in_trash())
    found = []
    for person in people:
        name = name_open(metadata_key, person) or ""
        folded = name.casefold()
        if wanted in folded:
            found.append((not folded.startswith(wanted), folded, str(person.pk), person, name))
    found.sort(key=lambda row: row[:3])
    return [
        {"id": str(person.pk), "label": name + (" (hidden)" if person.hidden else "")}
        for *_, person, name in found[:SEARCH_RESULTS]
    ]


def people_named_alike(*, user, metadata_key: bytes, name: str, exclude) -> list[Person]:
    """The owner's other people with this name (compared case-insensitively); none whose
    faces are all of photos in the trash (like people_search)."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        return []
    people = (
        Person.objects.filter(owner=user, name_sealed__isnull=False)
        .exclude(pk=exclude)
        .exclude(_only_in_trash())
        .only("id", "name_sealed", "hidden")
    )
    return [p for p in people if (name_open(metadata_key, p) or "").casefold() == wanted]


def person_photos(*, user, person: Person) -> QuerySet[Photo]:
    """The person's photos in gallery order (newest first), the trash left out."""
    has_face = Face.objects.filter(photo=OuterRef("pk"), person=person, not_a_face=False)
    return (
        Photo.objects.filter(owner=user, trashed_at__isnull=True)
        .filter(Exists(has_face))
        .order_by(*GALLERY_ORDER)
    )


def person_faces(*, person: Person) -> QuerySet[Face]:
    """The person's faces (none of a photo in the trash), the ones the owner placed first, then
    the best detections."""
    return (
        Face.objects.filter(LIVE, person=person, not_a_face=False)
        .select_related("photo")
        .defer("embedding_sealed", "photo__name_sealed", "photo__exif_sealed")
        .order_by("-assigned_by", "-score", "id")  # "user" > "auto" > "": the owner's first
    )


def faces_page(faces: QuerySet[Face], *, number: int) -> tuple[list[Face], bool]:
    start = (max(1, number) - 1) * FACES_PAGE
    rows = list(faces[start : start + FACES_PAGE + 1])
    return rows[:FACES_PAGE], len(rows) > FACES_PAGE


def faces_unassigned(*, user) -> QuerySet[Face]:
    """Faces in no person that the clustering may still group (none of a photo in the trash):
    newest photos first.

    Small or blurry detections (clusterable=False) are left out: they stay on their photo's
    page, but a wall of 20-pixel smudges would bury the faces worth naming."""
    return (
        Face.objects.filter(LIVE, owner=user, person=None, not_a_face=False, clusterable=True)
        .select_related("photo")
        .defer("embedding_sealed", "photo__name_sealed", "photo__exif_sealed")
        .order_by("-photo__shown_at", "-photo_id", "index")
    )


def faces_small_count(*, user) -> int:
    """Detections kept but not grouped (too small or too blurry), the trash left out."""
    small = Face.objects.filter(owner=user, not_a_face=False, clusterable=False)
    # Total (index face_owner_small) minus those of the few trashed photos (photo_trashed).
    return small.count() - small.filter(photo__trashed_at__isnull=False).count()


@dataclass(frozen=True)
class PhotoFace:
    face: Face
    name: str | None  # its person's name; None when unnamed or in no person


def faces_of_photo(*, user, photo: Photo, metadata_key: bytes) -> list[PhotoFace]:
    """The faces found in one of the owner's photos, in detection order, with their people's
    names (for the photo page); none while the photo is in the trash."""
    faces = (
        Face.objects.filter(LIVE, owner=user, photo=photo, not_a_face=False)
        .select_related("person")
        .defer("embedding_sealed", "person__exemplars_sealed")
        .order_by("index")
    )
    return [
        PhotoFace(face, name_open(metadata_key, face.person) if face.person else None)
        for face in faces
    ]
