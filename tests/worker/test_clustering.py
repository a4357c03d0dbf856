"""The clustering as a pure function (worker/clustering.py over worker/dbscan.py) on synthetic
embeddings with the spread of real dlib ones: a person is a Gaussian blob whose faces lie
~0.3–0.5 apart, two people ~0.7–1.0 apart (measured on the deepface set,
training/evaluate_faces.py). What the user must see hold: corrections are constraints, names
and merges survive re-runs, ids stay stable."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from vault.people.embeddings import (
    MIN_CLUSTER_SIZE,
    ExemplarIndex,
    FaceItem,
    PersonItem,
    assign_incremental,
    exemplars,
)
from worker.clustering import cluster_faces
from worker.dbscan import dbscan

DIM = 128
SPREAD = 0.025  # per dimension: two faces of one person ~0.4 apart (0.025 * sqrt(2 * 128))
CENTRE_NORM = 0.6  # two random centres ~0.85 apart


class World:
    """Makes people (blob centres), their faces and photos; every id is readable in failures."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.faces: list[FaceItem] = []
        self._photo = 0

    def centre(self) -> np.ndarray:
        c = self.rng.normal(size=DIM)
        return c * CENTRE_NORM / np.linalg.norm(c)

    def near(self, centre: np.ndarray, spread: float = SPREAD) -> np.ndarray:
        return (centre + self.rng.normal(size=DIM) * spread).astype(np.float32)

    def face(self, embedding, *, person=None, photo=None, locked=False, vetoed=()) -> FaceItem:
        if photo is None:
            self._photo += 1
            photo = f"photo{self._photo}"
        face = FaceItem(
            face_id=f"f{len(self.faces):03d}",
            photo_id=photo,
            embedding=np.asarray(embedding, dtype=np.float32),
            person_id=person,
            locked=locked,
            vetoed=frozenset(vetoed),
        )
        self.faces.append(face)
        return face

    def blob(self, centre, count: int, **kwargs) -> list[FaceItem]:
        return [self.face(self.near(centre), **kwargs) for _ in range(count)]


def members(result, person) -> set[str]:
    return {face for face, p in result.assignments.items() if p == person}


def ids(faces) -> set[str]:
    return {f.face_id for f in faces}


def groups(result) -> list[set[str]]:
    """The non-empty people of a result as sets of face ids, in a comparable order."""
    people = {p for p in result.assignments.values() if p is not None}
    return sorted((members(result, p) for p in people), key=sorted)


# --- DBSCAN itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "noise", "min_samples", "eps"),
    [(8, 20, 3, 0.5), (30, 60, 5, 0.45), (5, 0, 1, 0.5), (12, 40, 2, 0.55)],
)
def test_dbscan_finds_the_same_clusters_as_sklearn(people, noise, min_samples, eps):
    world = World(seed=people)
    centres = [world.centre() for _ in range(people)]
    rows = [world.near(c) for c in centres for _ in range(world.rng.integers(1, 25))]
    rows += [world.near(world.centre(), 0.0) for _ in range(noise)]
    offset = world.centre() * 1.4 / CENTRE_NORM  # dlib embeddings share a part of norm ~1.4
    x = np.array(rows) + offset.astype(np.float32)
    ours = dbscan(x, eps=eps, min_samples=min_samples)
    theirs = DBSCAN(eps=eps, min_samples=min_samples, algorithm="brute").fit(x)
    core = np.zeros(len(x), dtype=bool)
    core[theirs.core_sample_indices_] = True
    # the same partition of the core points, and the same points left as noise
    pairs = set(zip(ours[core], theirs.labels_[core], strict=True))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    assert np.array_equal(ours < 0, theirs.labels_ < 0)
    # a border point joins the cluster of its nearest core point
    for i in np.flatnonzero(~core & (ours >= 0)):
        d = np.linalg.norm(x[core] - x[i], axis=1)
        assert ours[i] == ours[core][np.argmin(d)]


def test_dbscan_gives_the_same_labels_whatever_its_threads_and_memory_bounds(monkeypatch):
    from worker import dbscan as module

    world = World(seed=5)
    centres = [world.centre() for _ in range(15)]
    x = np.array([world.near(c) for c in centres for _ in range(world.rng.integers(2, 40))])
    expected = dbscan(x, eps=0.5, min_samples=3, threads=1)
    assert len(set(expected)) > 10
    assert np.array_equal(dbscan(x, eps=0.5, min_samples=3, threads=2), expected)
    # tiny blocks and edge buffers: many partial spanning forests, many pivot groups
    monkeypatch.setattr(module, "_EDGE_BUFFER", 50)
    monkeypatch.setattr(module, "BLOCK_CELLS", 2000)
    assert np.array_equal(dbscan(x, eps=0.5, min_samples=3, threads=2), expected)


def test_dbscan_of_nothing_and_of_strangers():
    assert dbscan(np.zeros((0, DIM), np.float32), eps=0.5, min_samples=3).shape == (0,)
    world = World()
    strangers = np.array([world.near(world.centre(), 0.0) for _ in range(10)])
    assert (dbscan(strangers, eps=0.5, min_samples=2) == -1).all()


# --- a first run ----------------------------------------------------------------------------


def test_people_appear_and_strangers_stay_unassigned():
    world = World()
    people = [world.blob(world.centre(), 6) for _ in range(3)]
    strangers = [world.face(world.near(world.centre(), 0.0)) for _ in range(5)]
    result = cluster_faces(world.faces, [])
    assert groups(result) == sorted((ids(p) for p in people), key=sorted)
    assert sorted(result.new_people) == ["new:1", "new:2", "new:3"]
    assert all(result.assignments[f.face_id] is None for f in strangers)
    assert result.emptied == []


def test_fewer_faces_than_the_minimum_make_no_person():
    world = World()
    world.blob(world.centre(), MIN_CLUSTER_SIZE - 1)
    result = cluster_faces(world.faces, [])
    assert set(result.assignments.values()) == {None}
    assert result.new_people == []


def test_the_same_input_in_any_order_gives_the_same_result():
    world = World(seed=3)
    centres = [world.centre() for _ in range(5)]
    for number, c in enumerate(centres):
        world.blob(c, 5, person="p-named" if number == 0 else None)
    world.blob(centres[1], 2, person="g-old")
    for _ in range(4):
        world.face(world.near(world.centre(), 0.0))
    people = [PersonItem("p-named", True), PersonItem("g-old", False)]
    first = cluster_faces(world.faces, people)
    order = np.random.default_rng(9).permutation(len(world.faces))
    again = cluster_faces([world.faces[i] for i in order], people[::-1])
    assert again.assignments == first.assignments
    assert again.new_people == first.new_people
    assert again.emptied == first.emptied


# --- two faces of one photo -------------------------------------------------------------------


def test_two_faces_of_one_photo_never_join_one_person():
    world = World()
    centre = world.centre()
    world.blob(centre, 6)
    # a photo of a photo: the same person twice in one picture, one of them a bit off
    close = world.face(world.near(centre, SPREAD * 0.5), photo="mirror")
    far = world.face(world.near(centre, SPREAD * 1.4), photo="mirror")
    result = cluster_faces(world.faces, [])
    assert result.assignments[close.face_id] is not None
    assert result.assignments[far.face_id] is None  # the nearer one to the group's centre stays


def test_a_group_that_the_photo_rule_leaves_too_small_is_no_person():
    world = World()
    centre = world.centre()
    world.blob(centre, MIN_CLUSTER_SIZE - 1, photo="group")
    world.face(world.near(centre))
    result = cluster_faces(world.faces, [])
    assert set(result.assignments.values()) == {None}
    assert result.new_people == []


def test_a_pair_the_user_made_in_one_photo_stays():
    world = World()
    centre = world.centre()
    world.blob(centre, 5, person="p-ana")
    pair = [
        world.face(world.near(centre), photo="mirror", person="p-ana", locked=True)
        for _ in range(2)
    ]
    third = world.face(world.near(centre), photo="mirror")
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert {result.assignments[f.face_id] for f in pair} == {"p-ana"}
    assert result.assignments[third.face_id] is None  # not a third Ana automatically


def test_a_new_face_does_not_join_a_named_person_already_in_its_photo():
    world = World()
    ana = world.centre()
    world.blob(ana, 5, person="p-ana")
    world.face(world.near(ana), person="p-ana", photo="group")
    twin = world.face(world.near(ana), photo="group")
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert result.assignments[twin.face_id] is None


# --- vetoes ---------------------------------------------------------------------------------


def test_a_face_removed_from_a_person_never_returns():
    world = World()
    ana = world.centre()
    world.blob(ana, 6, person="p-ana")
    removed = world.face(world.near(ana), vetoed={"p-ana"})
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert result.assignments[removed.face_id] is None
    # nor after more faces of Ana arrive, nor through a fresh unprotected group
    world.blob(ana, 4)
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert result.assignments[removed.face_id] is None
    assert len(members(result, "p-ana")) == 10


def test_a_veto_on_an_unnamed_group_holds_when_the_group_keeps_its_id():
    world = World()
    centre = world.centre()
    world.blob(centre, 5, person="g1")
    removed = world.face(world.near(centre), vetoed={"g1"})
    result = cluster_faces(world.faces, [PersonItem("g1", False)])
    assert len(members(result, "g1")) == 5
    assert result.assignments[removed.face_id] is None


def test_a_veto_takes_a_face_out_of_a_named_person():
    world = World()
    ana = world.centre()
    world.blob(ana, 5, person="p-ana")
    wrong = world.face(world.near(ana), person="p-ana", vetoed={"p-ana"})
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert result.assignments[wrong.face_id] is None


# --- what the user named or merged ----------------------------------------------------------


def test_a_merge_of_two_groups_survives_a_full_re_run():
    world = World()
    a, b = world.centre(), world.centre()  # ~0.85 apart: DBSCAN alone keeps them apart
    merged = world.blob(a, 5, person="p-ana") + world.blob(b, 5, person="p-ana")
    new_a, new_b = world.blob(a, 4), world.blob(b, 4)
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert members(result, "p-ana") == ids(merged + new_a + new_b)
    assert result.new_people == []


def test_a_chain_of_strangers_does_not_pour_into_a_named_person():
    world = World()
    ana = world.centre()
    bob = (ana + 1.2 * world.centre() / CENTRE_NORM).astype(np.float32)  # 1.2 from Ana
    anas = world.blob(ana, 5, person="p-ana")
    # faces half-way between (look-alikes, blurred shots): DBSCAN chains Ana to Bob through them
    bridge = [world.face(world.near(ana + t * (bob - ana), 0.003)) for t in (0.25, 0.5, 0.75)]
    bobs = world.blob(bob, 5)
    assert (
        len(set(dbscan(np.stack([f.embedding for f in world.faces]), eps=0.48, min_samples=3))) == 1
    )
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert members(result, "p-ana") == ids([*anas, bridge[0]])  # only the direct match
    assert result.new_people == ["new:1"]
    assert members(result, "new:1") >= ids(bobs)  # Bob is offered as a group of his own


def test_a_face_between_a_named_face_and_a_group_joins_the_name_and_the_group_stays():
    world = World()
    base = world.centre()
    u, *v = np.linalg.qr(world.rng.normal(size=(DIM, 5)))[0].T  # orthonormal directions
    ana = world.face(base, person="p-ana")  # one named face: no DBSCAN core
    between = world.face(base + 0.4 * u)  # 0.4 from Ana and from Bob's nearest face
    bob = base + 0.8 * u
    bobs = [world.face(bob)] + [world.face(bob + 0.3 * w) for w in v]  # 0.5 from `between`
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)], threshold=0.48, min_size=4)
    assert members(result, "p-ana") == {ana.face_id, between.face_id}
    assert members(result, "new:1") == ids(bobs)


def test_named_people_keep_their_faces_even_the_far_ones():
    world = World()
    ana = world.centre()
    named = world.blob(ana, 5, person="p-ana")
    baby_photo = world.face(world.near(world.centre()), person="p-ana")  # far, the user put it
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert members(result, "p-ana") == ids([*named, baby_photo])


def test_two_close_named_people_are_never_merged():
    world = World()
    ana = world.centre()
    sister = (ana + world.near(np.zeros(DIM), 0.02)).astype(np.float32)  # ~0.3 apart: DBSCAN joins
    anas = world.blob(ana, 5, person="p-ana")
    sisters = world.blob(sister, 5, person="p-sister")
    new = world.blob(ana, 3) + world.blob(sister, 3)
    people = [PersonItem("p-ana", True), PersonItem("p-sister", True)]
    result = cluster_faces(world.faces, people)
    assert ids(anas) <= members(result, "p-ana")
    assert ids(sisters) <= members(result, "p-sister")
    assert all(result.assignments[f.face_id] in ("p-ana", "p-sister") for f in new)
    assert result.new_people == []


def test_a_name_survives_re_runs_and_new_faces_join_it():
    world = World()
    ana = world.centre()
    first = world.blob(ana, 5)
    result = cluster_faces(world.faces, [])
    (group,) = result.new_people
    assert members(result, group) == ids(first)
    # the user names the group: the caller stores it as p-ana, protected
    named = [FaceItem(f.face_id, f.photo_id, f.embedding, "p-ana") for f in world.faces]
    world.faces = named
    later = world.blob(ana, 3)
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert members(result, "p-ana") == ids(first + later)
    assert result.new_people == []


def test_a_new_face_joins_a_small_named_person_within_the_threshold_only():
    world = World()
    ana = world.centre()
    world.blob(ana, MIN_CLUSTER_SIZE - 2, person="p-ana")  # with the new face, still no core
    close = world.face(world.near(ana))
    stranger = world.face(world.near(world.centre()))
    result = cluster_faces(world.faces, [PersonItem("p-ana", True)])
    assert result.assignments[close.face_id] == "p-ana"
    assert result.assignments[stranger.face_id] is None


def test_locked_faces_stay_where_the_user_put_them():
    world = World()
    a, b = world.centre(), world.centre()
    world.blob(a, 5, person="g-a")
    moved = world.face(world.near(a), person="g-b", locked=True)  # looks like a, user says b
    world.blob(b, 5, person="g-b")
    kept_out = world.face(world.near(a), locked=True)  # the user said: nobody
    result = cluster_faces(world.faces, [PersonItem("g-a", False), PersonItem("g-b", False)])
    assert result.assignments[moved.face_id] == "g-b"
    assert result.assignments[kept_out.face_id] is None


# --- unnamed groups: stable ids -------------------------------------------------------------


def test_unchanged_groups_keep_their_ids_and_lost_ones_are_reported():
    world = World()
    a, b = world.centre(), world.centre()
    group_a = world.blob(a, 5, person="g-a")
    group_b = world.blob(b, 5, person="g-b")
    new_a = world.blob(a, 2)
    # g-gone held two faces that are now strangers to everyone
    gone = [world.face(world.near(world.centre(), 0.0), person="g-gone") for _ in range(2)]
    people = [PersonItem(p, False) for p in ("g-a", "g-b", "g-gone", "g-none")]
    result = cluster_faces(world.faces, people)
    assert members(result, "g-a") == ids(group_a + new_a)
    assert members(result, "g-b") == ids(group_b)
    assert all(result.assignments[f.face_id] is None for f in gone)
    assert result.emptied == ["g-gone", "g-none"]
    assert result.new_people == []


def test_a_group_split_in_two_keeps_its_id_on_the_larger_part():
    world = World()
    a, b = world.centre(), world.centre()
    larger = world.blob(a, 6, person="g-old")
    smaller = world.blob(b, 4, person="g-old")  # wrongly together before
    result = cluster_faces(world.faces, [PersonItem("g-old", False)])
    assert members(result, "g-old") == ids(larger)
    assert members(result, "new:1") == ids(smaller)


def test_a_group_mostly_of_new_faces_gets_a_new_id():
    world = World()
    a = world.centre()
    old = world.blob(a, 2, person="g-old")
    world.blob(a, 4)
    result = cluster_faces(world.faces, [PersonItem("g-old", False)])
    assert result.new_people == ["new:1"]
    assert members(result, "new:1") >= ids(old)
    assert result.emptied == ["g-old"]


# --- exemplars, incremental assignment (vault/people/embeddings.py) ------------------------


def test_exemplars_are_real_members_covering_every_look():
    world = World()
    young, old = world.centre(), world.centre()
    rows = np.array([world.near(young) for _ in range(40)] + [world.near(old) for _ in range(40)])
    chosen = exemplars(rows, k=8)
    assert chosen.shape == (8, DIM)
    assert all(any(np.array_equal(c, r) for r in rows) for c in chosen)
    nearer_young = np.linalg.norm(chosen - young, axis=1) < np.linalg.norm(chosen - old, axis=1)
    assert 0 < nearer_young.sum() < 8
    assert np.array_equal(exemplars(rows[:5], k=8), rows[:5])
    assert np.array_equal(exemplars(rows, k=8), chosen)  # deterministic


def test_a_stray_face_in_a_person_is_no_exemplar():
    world = World()
    ana = world.centre()
    rows = np.array([world.near(ana) for _ in range(60)] + [world.near(world.centre())])
    chosen = exemplars(rows, k=8)
    assert len(chosen) == 8
    assert not any(np.array_equal(c, rows[-1]) for c in chosen)


def test_a_new_face_joins_the_nearest_person_not_vetoed_within_the_threshold():
    world = World()
    ana, bea = world.centre(), world.centre()
    people = {
        "p-ana": np.array([world.near(ana) for _ in range(4)]),
        "p-bea": np.array([world.near(bea) for _ in range(4)]),
    }
    face = world.near(ana)
    assert assign_incremental(face, people) == "p-ana"
    assert assign_incremental(face, ExemplarIndex(people)) == "p-ana"
    assert assign_incremental(face, people, excluded={"p-ana"}) is None  # Bea is too far
    assert assign_incremental(world.near(world.centre()), people) is None
    assert assign_incremental(face, {}) is None
    # a looser threshold lets the second choice in when the first is excluded
    assert assign_incremental(face, people, excluded={"p-ana"}, threshold=2.0) == "p-bea"
