"""A full clustering run of one owner's faces: DBSCAN (worker/dbscan.py) over the 128-D face
embeddings, with the owner's corrections as hard constraints on top of it. A pure function on
numpy arrays (no Django, no database, no keys): worker/people.py reads the faces through
vault/people/clustering_run.py, calls cluster_faces, and hands the result back to it to apply.

Distances are Euclidean between dlib ResNet embeddings (worker/ai/face_embedder.py); the
thresholds are in vault/people/embeddings.py, tuned on real identities by
training/evaluate_faces.py (serengil/deepface tests/unit/dataset).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from vault.people.embeddings import (
    DISTANCE_THRESHOLD,
    MIN_CLUSTER_SIZE,
    NEW_PREFIX,
    Clustering,
    FaceItem,
    PersonItem,
    squared_distances,
)
from worker.dbscan import BLOCK_CELLS, dbscan, dbscan_density


def cluster_faces(
    faces: Sequence[FaceItem],
    people: Sequence[PersonItem],
    *,
    threshold: float = DISTANCE_THRESHOLD,
    min_size: int = MIN_CLUSTER_SIZE,
) -> Clustering:
    """A full re-clustering of one user's faces under the user's corrections.

    Hard constraints, whatever the embeddings say:
    - a locked face keeps its person (or stays unassigned if it is locked without one);
    - a face never joins a person in its `vetoed` set (a veto also takes a face out of an
      unlocked protected person it sits in);
    - two faces of one photo are never put into one person here (pairs the user made stay);
    - protected people keep their id and every face they have, are never merged with anyone,
      and gain the free faces that DBSCAN clusters with their faces (each such face goes to the
      nearest protected or locked face of its cluster), or that lie within `threshold` of one.
    Unprotected people are re-formed from DBSCAN clusters (eps=threshold, min_samples=min_size);
    a cluster keeps an old person's id when most of its faces were that person's (the person
    with most faces in it wins when several qualify), else it gets a "new:<n>" key.
    Deterministic and independent of the order of `faces` and `people`.
    """
    faces = sorted(faces, key=lambda face: face.face_id)
    index = {face.face_id: i for i, face in enumerate(faces)}
    if len(index) != len(faces):
        raise ValueError("duplicate face_id in faces")
    protected = {p.person_id for p in people if p.protected}
    known = {p.person_id for p in people} | {f.person_id for f in faces if f.person_id}
    n = len(faces)
    assigned: list[str | None] = [None] * n
    fixed = np.zeros(n, dtype=bool)
    for i, face in enumerate(faces):
        # a veto taking a face out of a protected person wins over its old place there
        keeps = face.person_id in protected and face.person_id not in face.vetoed
        if face.locked or keeps:
            assigned[i], fixed[i] = face.person_id, True

    x = (
        np.stack([np.asarray(f.embedding, dtype=np.float32).reshape(-1) for f in faces])
        if n
        else np.zeros((0, 128), np.float32)
    )
    density = dbscan_density(x, eps=threshold, min_samples=min_size)
    labels = density.labels
    # photo -> persons present there (the cannot-link bookkeeping), starting with fixed faces
    in_photo: dict[str, set[str]] = defaultdict(set)
    for i in np.flatnonzero(fixed):
        if assigned[i] is not None:
            in_photo[faces[i].photo_id].add(assigned[i])

    # 1. Free faces within threshold of a face of a protected or locked person join the nearest
    # such person they may join. Only direct matches: a chain of free faces that DBSCAN hangs
    # on a named person stays an unnamed group (offered to the owner as a merge suggestion),
    # because one wrong chain would pour a stranger's photos into someone the user named.
    anchor = fixed & np.array([a is not None for a in assigned], dtype=bool)
    candidates = _anchor_candidates(x, labels, anchor, fixed, density.loose, assigned, threshold)
    for _, i, person in sorted(candidates):
        if assigned[i] is None and _allowed(faces[i], person, in_photo):
            assigned[i] = person
            in_photo[faces[i].photo_id].add(person)

    # 2. The other free faces form groups: DBSCAN clusters without any anchor as they are; what
    # is left of clusters with anchors is clustered again on its own.
    free = ~fixed & np.array([a is None for a in assigned], dtype=bool)
    groups: list[np.ndarray] = []
    anchored = np.zeros(labels.max() + 2 if n else 1, dtype=bool)  # index -1: noise
    anchored[labels[anchor]] = True
    anchored[-1] = False
    by_label = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_label], np.arange(labels.max() + 2 if n else 1))
    for label in range(labels.max() + 1 if n else 0):
        members = by_label[bounds[label] : bounds[label + 1]]  # ascending: a stable sort
        members = members[free[members]]
        if not anchored[label] and len(members):
            groups.append(members)
    rest = np.flatnonzero(free & (labels >= 0) & anchored[labels])
    if len(rest):
        again = dbscan(x[rest], eps=threshold, min_samples=min_size)
        groups += [rest[again == label] for label in range(again.max() + 1)]
    groups.sort(key=lambda members: faces[int(members[0])].face_id)

    new_people: list[str] = []
    owner = _majority_owners(groups, faces, protected)
    for number, members in enumerate(groups):
        person = owner.get(number)
        if person is None:
            person = f"{NEW_PREFIX}{len(new_people) + 1}"
        members = [i for i in members if _allowed(faces[i], person, in_photo)]
        members = _one_per_photo(members, x, faces)
        if len(members) < min_size:
            continue
        if person.startswith(NEW_PREFIX):
            new_people.append(person)
        for i in members:
            assigned[i] = person
            in_photo[faces[i].photo_id].add(person)

    used = {person for person in assigned if person is not None}
    emptied = sorted((known - protected) - used)
    return Clustering(
        assignments={face.face_id: assigned[i] for i, face in enumerate(faces)},
        new_people=new_people,
        emptied=emptied,
    )


def _allowed(face: FaceItem, person: str, in_photo: Mapping[str, set[str]]) -> bool:
    """Not vetoed, and no face of that person in the face's photo yet."""
    return person not in face.vetoed and person not in in_photo.get(face.photo_id, ())


def _anchor_candidates(x, labels, anchor, fixed, loose, assigned, threshold):
    """(distance, face, person) for every free face and every anchored person with a face
    within threshold of it (the nearest such face). Where to look: a free face in a DBSCAN
    cluster meets the anchors of its cluster; a free non-core face also meets its own
    neighbours (DBSCAN kept them: a border face may sit next to an anchor of another cluster,
    a noise face next to a lone anchor). A core free face within eps of an anchor shares its
    cluster, so nothing is missed but an anchor that another cluster took as its border."""
    out: list[tuple[float, int, str]] = []
    free = ~fixed
    by_label = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_label], np.arange(labels.max() + 2 if len(labels) else 1))
    for label in np.unique(labels[anchor & (labels >= 0)]):
        members = by_label[bounds[label] : bounds[label + 1]]
        anchors, rows = members[anchor[members]], members[free[members]]
        if not len(rows):
            continue
        persons = sorted({assigned[a] for a in anchors})
        number = {person: k for k, person in enumerate(persons)}
        owner = np.array([number[assigned[a]] for a in anchors])
        anchors = anchors[np.argsort(owner, kind="stable")]
        starts = np.searchsorted(np.sort(owner), np.arange(len(persons)))
        anchor_sq = np.einsum("ij,ij->i", x[anchors], x[anchors])
        step = max(1, BLOCK_CELLS // len(anchors))
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            d2 = squared_distances(
                x[part], x[anchors], np.einsum("ij,ij->i", x[part], x[part]), anchor_sq
            )
            # (part, persons): each free face's distance to each person's nearest anchor
            nearest = np.sqrt(np.minimum.reduceat(d2, starts, axis=1))
            r, k = np.nonzero(nearest <= threshold)
            names = [persons[j] for j in k]
            out += zip(nearest[r, k].tolist(), part[r].tolist(), names, strict=True)
    point, neighbour, dist = loose
    keep = free[point] & anchor[neighbour] & (dist <= threshold)
    best: dict[tuple[int, str], float] = {}
    pairs = zip(point[keep].tolist(), neighbour[keep].tolist(), dist[keep].tolist(), strict=True)
    for i, a, d in pairs:
        key = (i, assigned[a])
        best[key] = min(d, best.get(key, d))
    out += [(d, i, person) for (i, person), d in best.items()]
    return out


def _majority_owners(
    clusters: list[np.ndarray], faces: Sequence[FaceItem], protected: set[str]
) -> dict[int, str]:
    """cluster number -> old unprotected person id that holds a strict majority of its faces;
    a person that is the majority of several clusters stays with the one holding most of its
    faces (ties: the cluster with the smallest face id, i.e. the lower number)."""
    bids: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for number, members in enumerate(clusters):
        votes = Counter(
            faces[i].person_id
            for i in members
            if faces[i].person_id is not None and faces[i].person_id not in protected
        )
        for person, count in votes.items():
            if 2 * count > len(members):
                bids[person].append((-count, number))
    return {min(offers)[1]: person for person, offers in bids.items()}


def _one_per_photo(members: list[int], x: np.ndarray, faces: Sequence[FaceItem]) -> list[int]:
    """Of several faces of one photo in a group, the one nearest the group's centre stays."""
    if not members:
        return members
    centre = x[members].mean(axis=0)
    dist = np.linalg.norm(x[members] - centre, axis=1)
    keep: dict[str, tuple[float, str, int]] = {}
    for d, i in zip(dist, members, strict=True):
        photo = faces[i].photo_id
        candidate = (float(d), faces[i].face_id, i)
        if photo not in keep or candidate < keep[photo]:
            keep[photo] = candidate
    return sorted(entry[2] for entry in keep.values())
