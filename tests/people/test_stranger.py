"""Another user gets 404 from every people URL that names the owner's person or face, whatever
the method, and changes nothing. The list of URLs is read from the URL resolver, so a route
added later is tested without anyone remembering to."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.people import synthetic
from tests.people.faces_support import keyring_of
from tests.users import OTHER_PASSWORD, PASSWORD
from vault.people import services
from vault.people import urls as people_urls
from vault.people.models import Face, FaceVeto, Person
from vault.people.sealing import name_open

pytestmark = pytest.mark.django_db

# Each URL keyword that names an object, and the kind of object it names. A route with a new
# keyword fails test_every_route_keyword_is_known until it is added here.
KINDS = {"person_id": "person", "face_id": "face", "merge_id": "merge"}
ACTIONS = ["remove", "not_a_face", "move", "new", "confirm", "reject"]


def routes() -> list[tuple[str, tuple[str, ...]]]:
    return [
        (f"people:{route.name}", tuple(route.pattern.converters))
        for route in people_urls.urlpatterns
    ]


def routes_with_ids() -> list[str]:
    return [name for name, kwargs in routes() if kwargs]


def routes_without_ids() -> list[str]:
    return [name for name, kwargs in routes() if not kwargs]


def test_every_route_keyword_is_known():
    assert routes_with_ids(), "the resolver lists no people routes"
    for name, kwargs in routes():
        assert set(kwargs) <= set(KINDS), f"{name} takes {kwargs}: add the kind to KINDS"
    assert {"people:detail", "people:crop", "people:merge", "people:face"} <= set(routes_with_ids())


@pytest.fixture
def owners(owner, data_dir):
    """The owner's named person with two faces (one with a crop), a group, and a loose face."""
    mk = keyring_of(owner, PASSWORD).metadata_key
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana Secret")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    loose = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 9))
    synthetic.crop_blob(faces[0], synthetic.crop_jpeg())
    merged_away, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    merge = services.person_merge(
        user=owner, metadata_key=mk, target_id=ana.id, source_ids=[merged_away.id]
    ).merge
    return {
        "person": ana,
        "face": faces[0],
        "group": group,
        "loose": loose,
        "mk": mk,
        "merge": merge,
        "merged_away": merged_away,
    }


def _snapshot(owner):
    return {
        "faces": sorted(
            Face.objects.filter(owner=owner).values_list(
                "id", "person_id", "assigned_by", "not_a_face"
            )
        ),
        "people": sorted(
            Person.objects.filter(owner=owner).values_list("id", "hidden", "protected")
        ),
        "vetoes": FaceVeto.objects.count(),
    }


def _bodies(objects, loose=None):
    """Every form field the people pages post, filled with the given objects' ids."""
    faces = [str(objects["face"].id)] + ([str(loose.id)] if loose else [])
    for action in ACTIONS:
        yield {
            "face": faces,
            "person": str(objects["person"].id),
            "into": str(objects["person"].id),
            "action": action,
            "name": "Mallory",
            "hidden": "1",
        }


def _url(name, objects):
    route_kwargs = next(kw for n, kw in routes() if n == name)
    kwargs = {key: objects[KINDS[key]].id for key in route_kwargs}
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("name", routes_with_ids())
def test_another_user_gets_404_for_every_method(owners, owner, other_client, name):
    url = _url(name, owners)
    before = _snapshot(owner)
    assert other_client.get(url).status_code == 404
    assert other_client.head(url).status_code == 404
    for body in _bodies(owners, owners["loose"]):
        assert other_client.post(url, body).status_code == 404, body["action"]
    assert _snapshot(owner) == before
    owners["person"].refresh_from_db()
    assert name_open(owners["mk"], owners["person"]) == "Ana Secret"


@pytest.mark.parametrize("name", routes_with_ids())
def test_the_owner_gets_no_404_from_the_same_urls(owners, owner_client, name):
    """The test above is only worth something if the same URLs work for the owner."""
    assert owner_client.get(_url(name, owners)).status_code in (200, 302)


@pytest.mark.parametrize("name", [n for n in routes_with_ids() if "person_id" in dict(routes())[n]])
def test_another_users_ids_in_the_body_of_their_own_urls_are_404(
    owners, owner, other_user, other_client, name
):
    other_mk = keyring_of(other_user, OTHER_PASSWORD).metadata_key
    theirs, [their_face] = synthetic.person_with_faces(other_user, other_mk, seed=5, count=1)
    url = reverse(name, kwargs={"person_id": theirs.id})
    before = _snapshot(owner)
    for body in _bodies(owners):
        body["face"] = [str(their_face.id), str(owners["face"].id)]
        status = other_client.post(url, body).status_code
        # 404; or 302 where the route uses no id from the body (renaming their own person),
        # or 405 on a page that takes no POST: either way nothing of the owner's changes.
        assert status in (404, 405, 302), (body["action"], status)
    assert _snapshot(owner) == before


@pytest.mark.parametrize("name", routes_without_ids())
def test_routes_without_ids_refuse_the_owners_ids_and_show_nothing_of_theirs(
    owners, owner, other_client, name
):
    url = reverse(name)
    before = _snapshot(owner)
    page = other_client.get(url, follow=True).content.decode()
    assert "Ana Secret" not in page
    for key in ("person", "face", "group", "loose"):
        assert str(owners[key].id) not in page
    for body in _bodies(owners, owners["loose"]):
        assert other_client.post(url, body).status_code in (404, 405), body["action"]
    assert _snapshot(owner) == before


def test_a_merged_persons_old_id_is_a_plain_404_for_another_user(owners, owner, other_client):
    """Issue 24, item 6: the owner's stale tab is told where a merged person went; anyone
    else learns nothing (not even that the id once existed)."""
    gone = owners["merged_away"].id
    for name in ("people:detail", "people:rename", "people:merge", "people:hide"):
        url = reverse(name, args=[gone])
        assert other_client.get(url).status_code == 404
        assert other_client.post(url, {"name": "Mallory", "into": str(gone)}).status_code == 404
