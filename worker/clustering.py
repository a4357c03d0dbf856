"""Grouping a user's faces into people: exact DBSCAN over the 128-D face embeddings, and the
user's corrections as hard constraints on top of it. Pure functions on numpy arrays (no Django,
no database, no keys): worker/people.py loads the rows, calls cluster_faces, writes the result.

Distances are Euclidean between dlib ResNet embeddings (worker/ai/face_embedder.py), where dlib's
own same-person threshold is 0.6. The constants below are tuned on real identities by
training/evaluate_faces.py (serengil/deepface tests/unit/dataset) — see their comments.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# DBSCAN's eps and the join radius of incremental assignment (Euclidean, dlib embeddings).
# Tuned on the deepface set (training/evaluate_faces.py; 62 labelled photos, 13 adults): 0.48
# and 0.50 give purity 1.000 and completeness 0.973; from 0.52 two people merge (the closest
# two photos of different people there are 0.517 apart). 0.48 keeps a margin below that, since
# DBSCAN chains and a real family has closer faces than that set; dlib's 0.6 merges people.
DISTANCE_THRESHOLD = 0.48
# DBSCAN's min_samples (the point itself included): a group of fewer faces makes no person.
# 3 on the same set: 2 would also gather the people seen in two photos (completeness 1.000
# there) but lets any two similar strangers, or two near-identical shots, make a person.
MIN_CLUSTER_SIZE = 3
# Embeddings kept per person for incremental assignment and review: enough to cover poses,
# ages and lighting of one person, few enough that 500 people cost ~8 MB and < 1 ms a face.
MAX_EXEMPLARS = 32

NEW_PREFIX = "new:"
# Float32 rounding in the distance bounds of the neighbour search: d^2 = |x|^2 + |y|^2 - 2xy is
# off by ~1e-6 for embeddings of norm ~1.5, so d near 0 (a face on its pivot) by up to ~1e-3;
# widening the candidate windows by this much keeps the search exact.
_BOUND_SLACK = 2e-3
# Cells of the distance blocks computed at once (16 MB of float32): bounds memory at any n.
_BLOCK_CELLS = 4_000_000
# Pivots of the neighbour search: one per ~_POINTS_PER_PIVOT faces, at most _MAX_PIVOTS.
_POINTS_PER_PIVOT = 64
_MAX_PIVOTS = 1024
# Core-core edges gathered before they are reduced to a spanning forest (~16 MB each way).
_EDGE_BUFFER = 1_000_000
# Widest spread of distance-to-pivot within one block of rows (see _bucket_blocks).
_ROW_SPAN = 0.05


@dataclass(frozen=True)
class FaceItem:
    face_id: str
    photo_id: str
    embedding: np.ndarray  # (128,) float32
    person_id: str | None  # current person, None if unassigned
    locked: bool = False  # the user put it there: never moved by clustering
    vetoed: frozenset[str] = frozenset()  # persons this face must never join ("not this person")


@dataclass(frozen=True)
class PersonItem:
    person_id: str
    protected: bool  # named or merged by the user: never renamed/split/merged, only gains faces


@dataclass
class Clustering:
    assignments: dict[str, str | None]  # face_id -> person_id, a "new:<n>" key, or None
    new_people: list[str] = field(default_factory=list)  # the "new:<n>" keys used
    emptied: list[str] = field(default_factory=list)  # unprotected person ids left faceless


# --- exact DBSCAN with a pruned neighbour search ----------------------------------------------


def dbscan(
    x: np.ndarray, *, eps: float, min_samples: int, threads: int | None = None
) -> np.ndarray:
    """DBSCAN labels (n,) int: see _dbscan."""
    return _dbscan(x, eps=eps, min_samples=min_samples, threads=threads).labels


@dataclass(frozen=True)
class _Density:
    labels: np.ndarray  # (n,) cluster 0.. or -1
    core: np.ndarray  # (n,) bool
    # every neighbour within eps of each non-core point: (point, neighbour, distance) arrays,
    # sorted by point, then distance, then neighbour
    loose: tuple[np.ndarray, np.ndarray, np.ndarray]


def _dbscan(x: np.ndarray, *, eps: float, min_samples: int, threads: int | None = None) -> _Density:
    """DBSCAN labels (n,) int: clusters 0.. numbered by their first member, -1 for noise.

    x: (n, d) float. Same definition as sklearn.cluster.DBSCAN (a core point has at least
    min_samples points, itself included, within distance <= eps; clusters are the connected
    core points plus the border points within eps of a core), with one difference that makes it
    deterministic: a border point within reach of two clusters joins the one of its nearest core
    point (sklearn gives it to whichever cluster its scan reaches first). The core partition is
    identical to sklearn's (tests/worker/test_clustering.py checks it). threads: CPU threads
    (default VAULT_ML_THREADS, else 2); the result does not depend on it.

    Why not sklearn's DBSCAN itself: its brute search computes all 10^10 pairs of 100k faces
    and keeps every neighbourhood in memory (a person with 7k faces alone is 5×10^7 pairs):
    85.6 s and 2.4 GB against 33.1 s and 0.6 GB here (bench/faces_clustering.py, 2 cores); its
    ball and kd trees are slower still in 128 dimensions (42 s and 76 s for 10k faces against
    1.5 s brute). Here the points are bucketed around k-means pivots, a bucket is compared only
    with the points that two triangle-inequality bounds cannot rule out, in bounded blocks, and
    the neighbourhoods are reduced on the fly to counts (pass 1) and to a
    spanning forest of the core points (pass 2).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if n == 0:
        nothing = np.zeros(0, dtype=np.int64)
        return _Density(nothing, nothing.astype(bool), (nothing, nothing, nothing.astype(float)))
    search = _NeighbourSearch(x, eps, _threads(threads))
    lock = threading.Lock()
    counts = np.ones(n, dtype=np.int64)  # every point is its own neighbour

    def count(rows, cols, within, _d2):
        by_row, by_col = within.sum(axis=1), within.sum(axis=0)
        with lock:  # columns may belong to a bucket that another thread is counting
            counts[rows] += by_row
            counts[cols] += by_col

    search.run(count, np.ones(n, dtype=bool))
    core = counts >= min_samples

    # Pass 2: core-core edges, reduced to a spanning forest whenever a million have gathered
    # (memory stays bounded however large a person is), and every pair with a non-core end:
    # few, since a non-core point has fewer than min_samples neighbours.
    forest: list[tuple[np.ndarray, np.ndarray]] = []
    edges: list[tuple[np.ndarray, np.ndarray]] = []
    pending = [0]
    # each point's component in the forest so far (replaced whole at each reduction): an edge
    # inside one known component adds nothing, and most edges of a large person are such
    known = [np.arange(n)]
    none = np.zeros(0, dtype=np.int64)
    loose: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(none, none, none.astype(np.float32))]

    def link(rows, cols, within, d2):
        row_core, col_core = core[rows], core[cols]
        component = known[0]
        useful = within & (component[rows][:, None] != component[cols][None, :])
        if row_core.all() and col_core.all():
            r, c = np.nonzero(useful)
            lr = lc = np.zeros(0, dtype=np.int64)
        else:
            both = row_core[:, None] & col_core[None, :]
            r, c = np.nonzero(useful & both)
            lr, lc = np.nonzero(within & ~both)
        with lock:
            if len(lr):
                loose.append((rows[lr], cols[lc], np.sqrt(d2[lr, lc])))
            if len(r):
                edges.append((rows[r], cols[c]))
                pending[0] += len(r)
                if pending[0] > _EDGE_BUFFER:
                    # the forest so far goes in too: it stays at most one edge per point
                    edges.extend(forest)
                    forest[:] = [_spanning_forest(edges, n)]
                    edges.clear()
                    pending[0] = 0
                    update = np.arange(n)
                    update[forest[0][0]] = forest[0][1]
                    known[0] = update

    search.run(link, counts > 1)
    forest.append(_spanning_forest(edges, n))
    # the forest's order depends on the threads' timing; its connected components do not
    a = np.concatenate([pair[0] for pair in forest])
    b = np.concatenate([pair[1] for pair in forest])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    labels = np.full(n, -1, dtype=np.int64)
    labels[core] = comp[core]
    # both directions of each loose pair, sorted by (point, distance, neighbour): canonical
    i = np.concatenate([pair[0] for pair in loose] + [pair[1] for pair in loose])
    j = np.concatenate([pair[1] for pair in loose] + [pair[0] for pair in loose])
    d = np.concatenate([pair[2] for pair in loose] * 2)
    order = np.lexsort((j, d, i))
    i, j, d = i[order], j[order], d[order]
    # a border point joins the cluster of its nearest core (ties: the lower index)
    border = ~core[i] & core[j]
    bi, bj = i[border], j[border]
    first = np.ones(len(bi), dtype=bool)
    first[1:] = bi[1:] != bi[:-1]
    labels[bi[first]] = comp[bj[first]]
    non_core = ~core[i]
    # renumber clusters by their first member, so labels do not depend on the search's order
    clustered = np.flatnonzero(labels >= 0)
    _, first_seen = np.unique(labels[clustered], return_index=True)
    rank = np.empty(labels.max() + 1, dtype=np.int64)
    rank[labels[clustered][np.sort(first_seen)]] = np.arange(len(first_seen))
    labels[clustered] = rank[labels[clustered]]
    return _Density(labels, core, (i[non_core], j[non_core], d[non_core]))


def _spanning_forest(
    edges: list[tuple[np.ndarray, np.ndarray]], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Edges (pairs of point ids < n) -> at most one edge per touched point with the same
    connected components: from every touched point to the first point of its component.
    O(n + edges): no sorting, the graph is built over all n points."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not edges:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = np.concatenate([pair[0] for pair in edges])
    b = np.concatenate([pair[1] for pair in edges])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    touched = np.zeros(n, dtype=bool)
    touched[a] = True
    touched[b] = True
    nodes = np.flatnonzero(touched)
    first = np.empty(comp.max() + 1, dtype=np.int64)
    first[comp[nodes[::-1]]] = nodes[::-1]
    return nodes, first[comp[nodes]]


def _threads(threads: int | None) -> int:
    if threads is None:
        threads = int(os.environ.get("VAULT_ML_THREADS") or 2)
    return max(1, int(threads))


class _NeighbourSearch:
    """All pairs within eps, as blocks, without computing most of the pairs that are not.

    Every point belongs to the bucket of its nearest pivot p and knows d(x, p). A pair (x, y)
    can be within eps only if |d(x, q) - d(y, q)| <= eps for every pivot q (triangle
    inequality); two such bounds are checked before any distance: q = the row's pivot (a window
    over the columns' distances to it) and q = the column's own pivot."""

    def __init__(self, x: np.ndarray, eps: float, threads: int) -> None:
        self.x = x
        self.eps = eps
        self.threads = threads
        self.sq = np.einsum("ij,ij->i", x, x)
        n = len(x)
        with _blas_threads(threads):
            self.pivots = _pivots(x)
            self.pivot_sq = np.einsum("ij,ij->i", self.pivots, self.pivots)
            self.bucket = np.empty(n, dtype=np.int64)
            self.to_pivot = np.empty(n, dtype=np.float32)
            step = max(1, _BLOCK_CELLS // len(self.pivots))
            for start in range(0, n, step):
                part = slice(start, start + step)
                d = self._to_pivots(x[part], self.sq[part], slice(None))
                self.bucket[part] = d.argmin(axis=1)
                self.to_pivot[part] = d.min(axis=1)
        self.order = np.lexsort((self.to_pivot, self.bucket))
        self.starts = np.searchsorted(self.bucket[self.order], np.arange(len(self.pivots) + 1))
        self.rank = np.empty(n, dtype=np.int64)
        self.rank[self.order] = np.arange(n)

    def _to_pivots(self, rows: np.ndarray, rows_sq: np.ndarray, which) -> np.ndarray:
        return np.sqrt(_squared(rows, self.pivots[which], rows_sq, self.pivot_sq[which]))

    def run(self, fn, mask: np.ndarray) -> None:
        """Call fn(rows, cols, within, d2) for blocks that hold every unordered pair {i, j},
        i != j, of points in mask with d(i, j) <= eps exactly once (as (row, col) or (col,
        row)): row indices (r,), column indices (c,), the bool (r, c) matrix of such pairs, and
        the squared distances. A bucket's rows meet the columns of its own bucket ranked after
        them and those of later buckets. Buckets run on `threads` threads, so fn must lock
        what it shares.
        """
        from concurrent.futures import ThreadPoolExecutor

        col_all = np.flatnonzero(mask)
        k = len(self.pivots)
        step = max(1, _BLOCK_CELLS // max(1, len(col_all)))
        with _blas_threads(1), ThreadPoolExecutor(self.threads) as pool:
            for first in range(0, k, step):
                group = np.arange(first, min(k, first + step))
                # every allowed column's distance to each pivot of this group (c, g)
                to_group = self._to_pivots(self.x[col_all], self.sq[col_all], group)
                tasks = []
                for g, p in enumerate(group):
                    members = self.order[self.starts[p] : self.starts[p + 1]]
                    members = members[mask[members]]
                    if len(members):
                        tasks.append((p, members, col_all, to_group[:, g], fn))
                if self.threads == 1:
                    for task in tasks:
                        self._bucket(*task)
                else:
                    for done in pool.map(lambda task: self._bucket(*task), tasks):
                        del done

    def _bucket(self, p, members, col_all, col_d, fn) -> None:
        eps = self.eps + _BOUND_SLACK
        eps2 = np.float32(self.eps) ** 2
        member_d = self.to_pivot[members]  # ascending: members come sorted by it
        window = (col_d >= member_d[0] - eps) & (col_d <= member_d[-1] + eps)
        window &= self.bucket[col_all] >= p  # earlier buckets met these rows already
        cand, cand_d = col_all[window], col_d[window]
        cand_pivot, cand_to_pivot = self.bucket[cand], self.to_pivot[cand]
        cand_rank = self.rank[cand]
        # Row blocks span at most _ROW_SPAN of distance to the pivot: a block's window is its
        # span widened by eps, so one far-out face must not widen it for all the others.
        rows_per_block = max(8, min(1024, _BLOCK_CELLS // max(1, len(cand))))
        start = 0
        while start < len(members):
            limit = np.searchsorted(member_d, member_d[start] + _ROW_SPAN, side="right")
            stop = max(start + 1, min(start + rows_per_block, int(limit)))
            rows = members[start:stop]
            lo, hi = member_d[start], member_d[stop - 1]
            start = stop
            to_all = self._to_pivots(self.x[rows], self.sq[rows], slice(None))
            low, high = to_all.min(axis=0) - eps, to_all.max(axis=0) + eps
            keep = (cand_d >= lo - eps) & (cand_d <= hi + eps)
            keep &= cand_to_pivot >= low[cand_pivot]
            keep &= cand_to_pivot <= high[cand_pivot]
            # in the own bucket, only the columns ranked after the block's first row
            keep &= (cand_pivot != p) | (cand_rank > self.rank[rows[0]])
            cols = cand[keep]
            if len(cols):
                d2 = _squared(self.x[rows], self.x[cols], self.sq[rows], self.sq[cols])
                within = d2 <= eps2
                # own bucket: a pair once (row ranked before column), never a point with itself
                same = cand_pivot[keep] == p
                if same.any():
                    within[:, same] &= self.rank[cols[same]][None, :] > self.rank[rows][:, None]
                fn(rows, cols, within, d2)


_controller = None


def _blas_threads(n: int):
    """Context: BLAS limited to n threads. Many small matrix products on a busy machine run
    several times faster single-threaded, two of them side by side (measured: 5.8 s against
    31.8 s for one pass over 20k faces at load 9 on 2 cores; 0.7 against 4.3 ms for one
    incremental assignment). The controller is made once: it inspects every loaded library."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=n, user_api="blas")


def _pivots(x: np.ndarray) -> np.ndarray:
    """(k, d) k-means centres of a sample: buckets tight enough for the triangle bound to rule
    out other people's faces. k ~ n/64 keeps a bucket around one person's pose cluster."""
    n = len(x)
    k = int(min(_MAX_PIVOTS, max(1, n // _POINTS_PER_PIVOT)))
    if k == 1:
        return x.mean(axis=0, keepdims=True)
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    sample = x if n <= 20 * k else x[np.sort(rng.choice(n, 20 * k, replace=False))]
    km = KMeans(n_clusters=k, init="random", n_init=1, max_iter=10, random_state=0).fit(sample)
    return km.cluster_centers_.astype(np.float32)


def _squared(a, b, a_sq, b_sq) -> np.ndarray:
    d2 = a @ b.T
    d2 *= -2
    d2 += a_sq[:, None]
    d2 += b_sq[None, :]
    np.maximum(d2, 0, out=d2)
    return d2


def _distances(a, b, a_sq) -> np.ndarray:
    return np.sqrt(_squared(a, b, a_sq, np.einsum("ij,ij->i", b, b)))


# --- the clustering with the user's constraints -----------------------------------------------


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
    density = _dbscan(x, eps=threshold, min_samples=min_size)
    labels = density.labels
    # photo -> persons present there (the cannot-link bookkeeping), starting with fixed faces
    in_photo: dict[str, set[str]] = defaultdict(set)
    for i in np.flatnonzero(fixed):
        if assigned[i] is not None:
            in_photo[faces[i].photo_id].add(assigned[i])

    # 1. Free faces within threshold of a face of a protected or locked person join the nearest
    # such person they may join. Only direct matches: a chain of free faces that DBSCAN hangs
    # on a named person stays an unnamed group (offered by suggest_merges), because one wrong
    # chain would pour a stranger's photos into someone the user named.
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
        step = max(1, _BLOCK_CELLS // len(anchors))
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            d2 = _squared(x[part], x[anchors], np.einsum("ij,ij->i", x[part], x[part]), anchor_sq)
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


# --- exemplars, incremental assignment, review -----------------------------------------------


def exemplars(embeddings: np.ndarray, k: int = MAX_EXEMPLARS) -> np.ndarray:
    """(m, d) -> (min(m, k), d): members that represent a person for incremental assignment.

    With more than k faces: k-means with k centres, and the member nearest each centre (a real
    face, not an average). k-means gives a stray face (a wrong face in the person, a bad
    crop) a centre of its own, so such lone faces come last: their slots go to the next most
    central members of the largest groups. Deterministic for the same rows, in their order.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    m = len(embeddings)
    if m <= k:
        return embeddings.copy()
    centres, labels = _kmeans(embeddings, k)
    sizes = np.bincount(labels, minlength=k)
    sq = np.einsum("ij,ij->i", embeddings, embeddings)
    # (lone, round, -size, centre, member): round r offers each group's r-th most central face
    offers = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        d2 = _squared(
            centres[c : c + 1], embeddings[members], centres[c : c + 1] @ centres[c], sq[members]
        )
        for rank, j in enumerate(members[np.argsort(d2[0], kind="stable")]):
            offers.append((sizes[c] < 2, rank, -sizes[c], c, int(j)))
    chosen = [member for *_, member in sorted(offers)[:k]]
    return embeddings[sorted(chosen)]


def _kmeans(x: np.ndarray, k: int, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(centres (k, d), label per row): Lloyd's k-means from a farthest-point start (the row
    nearest the mean, then repeatedly the row farthest from every centre so far): no random
    numbers, and ~1 ms for a person of 200 faces where sklearn's KMeans spends ~80 ms in
    set-up (41 s for 500 people, measured by bench/faces_clustering.py)."""
    sq = np.einsum("ij,ij->i", x, x)
    first = int(np.argmin(np.einsum("ij,ij->i", x - x.mean(axis=0), x - x.mean(axis=0))))
    chosen = [first]
    nearest = _squared(x[first : first + 1], x, sq[first : first + 1], sq)[0]
    for _ in range(1, k):
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, _squared(x[chosen[-1:]], x, sq[chosen[-1:]], sq)[0])
    centres = x[chosen].copy()
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        d2 = _squared(x, centres, sq, np.einsum("ij,ij->i", centres, centres))
        labels = d2.argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, x)
        filled = counts > 0  # an emptied centre stays where it was
        moved = sums[filled] / counts[filled, None]
        if np.allclose(moved, centres[filled]):
            break
        centres[filled] = moved
    return centres, labels


class ExemplarIndex(Mapping):
    """person_id -> (k, 128) exemplars, stacked once: pass it to assign_incremental for every
    new face of a job instead of a dict, so the (people × k, 128) matrix is not rebuilt for
    each face (~8 MB for 500 people: a copy costs more than the distances)."""

    def __init__(self, people: Mapping[str, np.ndarray]) -> None:
        self._people = {
            p: np.asarray(e, dtype=np.float32).reshape(len(e), -1)
            for p, e in people.items()
            if len(e)
        }
        self.ids = sorted(self._people)
        rows = [self._people[p] for p in self.ids]
        self.stacked = np.concatenate(rows) if rows else np.zeros((0, 128), np.float32)
        self.starts = np.cumsum([0] + [len(r) for r in rows[:-1]]).astype(np.int64)
        self.sq = np.einsum("ij,ij->i", self.stacked, self.stacked)

    def __getitem__(self, person_id: str) -> np.ndarray:
        return self._people[person_id]

    def __iter__(self):
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def distances(self, queries: np.ndarray) -> np.ndarray:
        """(q, 128) -> (q, len(ids)): each query's distance to each person's nearest exemplar."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.stacked.shape[1])
        if not self.ids:
            return np.zeros((len(queries), 0), dtype=np.float32)
        with _blas_threads(1 if len(queries) < 64 else _threads(None)):
            d2 = _squared(queries, self.stacked, np.einsum("ij,ij->i", queries, queries), self.sq)
        return np.sqrt(np.minimum.reduceat(d2, self.starts, axis=1))


def assign_incremental(
    embedding: np.ndarray,
    people: Mapping[str, np.ndarray],
    *,
    excluded: Collection[str] = (),
    threshold: float = DISTANCE_THRESHOLD,
) -> str | None:
    """The person whose nearest exemplar is nearest to `embedding` (128,), if within
    threshold, skipping `excluded` (vetoed, or already has a face in this photo); else None.
    people: person_id -> (k, 128) exemplars, or an ExemplarIndex of them (faster for many
    faces). Ties go to the smaller person id."""
    index = people if isinstance(people, ExemplarIndex) else ExemplarIndex(people)
    if not index.ids:
        return None
    d = index.distances(embedding)[0]
    for j in np.argsort(d, kind="stable"):
        if d[j] > threshold:
            return None
        if index.ids[j] not in excluded:
            return index.ids[j]
    return None


def nearest_faces(
    person: np.ndarray, candidates: Mapping[str, np.ndarray], *, limit: int, threshold: float
) -> list[tuple[str, float]]:
    """ "Is this Ana?": up to `limit` (face_id, distance) of the candidate faces (face_id ->
    (128,)) within `threshold` of the person's exemplars (k, 128), nearest first (ties: id)."""
    if not candidates or not len(person) or limit <= 0:
        return []
    ids = sorted(candidates)
    queries = np.stack([np.asarray(candidates[f], dtype=np.float32).reshape(-1) for f in ids])
    d = ExemplarIndex({"person": person}).distances(queries)[:, 0]
    found = sorted(
        (float(dist), face) for face, dist in zip(ids, d, strict=True) if dist <= threshold
    )
    return [(face, dist) for dist, face in found[:limit]]


def suggest_merges(
    named: Mapping[str, np.ndarray], groups: Mapping[str, np.ndarray], *, threshold: float
) -> list[tuple[str, str, float]]:
    """(group_id, named_person_id, distance), nearest first: for each unnamed group, the named
    person it is closest to, if within threshold. Distance = median over the group's exemplars
    of their nearest distance to the person's exemplars — one stray face does not make a match
    (single linkage would), a group mostly made of that person's faces does."""
    index = ExemplarIndex(named)
    if not index.ids:
        return []
    out = []
    for group in sorted(groups):
        rows = np.asarray(groups[group], dtype=np.float32)
        if not len(rows):
            continue
        score = np.median(index.distances(rows), axis=0)
        best = int(np.argmin(score))
        if score[best] <= threshold:
            out.append((group, index.ids[best], float(score[best])))
    return sorted(out, key=lambda row: (row[2], row[0]))
