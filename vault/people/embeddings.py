"""Face embeddings, for the web and the worker alike: the distance thresholds, sealed embeddings
opened into arrays, distances, each person's exemplars and the incremental assignment of a new
face. numpy only (no Django, no scikit-learn, no dlib: DESIGN §2), so that both tiers compute
with one copy of the maths.

Embeddings are dlib's 128-D ResNet descriptors (worker/ai/face_embedder.py), stored as float32
little-endian rows sealed under the owner's metadata key (vault/people/sealing.py); distances
are Euclidean, as dlib uses them. The worker's full clustering run (worker/clustering.py, over
worker/dbscan.py) takes FaceItem/PersonItem and gives a Clustering, which
vault/people/clustering_run.py applies.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from vault.crypto import DecryptionError
from vault.people.sealing import EMBEDDING_DIM, vectors_open, vectors_seal

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
# dlib's own rule for its ResNet descriptors: two faces closer than 0.6 are the same person
# (dlib.net/face_recognition.py.html; 99.38 % on LFW). Review (vault/people/suggestions.py) uses
# it: looser than DISTANCE_THRESHOLD on purpose, since review asks the owner, so a near miss
# costs one click, not a wrong person.
REVIEW_THRESHOLD = 0.6
# Embeddings kept per person for incremental assignment and review (chosen by a clustering
# run, or interleaved from the parts of a person the owner made or merged by hand): enough to
# cover poses, ages and lighting of one person, few enough that 500 people cost ~8 MB and
# < 1 ms a face.
MAX_EXEMPLARS = 32


# --- the clustering's input and output (worker/clustering.py computes, the service applies) ---


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


NEW_PREFIX = "new:"


@dataclass
class Clustering:
    assignments: dict[str, str | None]  # face_id -> person_id, a "new:<n>" key, or None
    new_people: list[str] = field(default_factory=list)  # the "new:<n>" keys used
    emptied: list[str] = field(default_factory=list)  # unprotected person ids left faceless


# --- sealed embeddings ---------------------------------------------------------------------


def embeddings_open(metadata_key: bytes, sealed, aad: bytes) -> np.ndarray | None:
    """The sealed float32 rows as a read-only (k, 128) float32 array; None when `sealed` is
    None or does not open (a row edited by hand or restored from another vault: the caller
    skips it, it is never fatal). aad: vault.people.sealing.embedding_aad or exemplars_aad."""
    if sealed is None:
        return None
    try:
        plain = vectors_open(metadata_key, bytes(sealed), aad)
    except DecryptionError:
        return None
    return np.frombuffer(plain, dtype="<f4").reshape(-1, EMBEDDING_DIM)


def embeddings_seal(metadata_key: bytes, rows: np.ndarray, aad: bytes) -> bytes:
    """(k, 128) rows sealed as float32 little-endian; ValueError for another width."""
    return vectors_seal(metadata_key, np.ascontiguousarray(rows, dtype="<f4").tobytes(), aad)


# --- distances -----------------------------------------------------------------------------


def squared_distances(a, b, a_sq, b_sq) -> np.ndarray:
    """(n, m) squared Euclidean distances of rows a (n, d) and b (m, d), given their squared
    norms a_sq (n,) and b_sq (m,), in the dtype of a @ b.T. |x|^2 + |y|^2 - 2xy, clipped at 0
    (float rounding: off by ~1e-6 for float32 embeddings of norm ~1.5)."""
    d2 = a @ b.T
    d2 *= -2
    d2 += a_sq[:, None]
    d2 += b_sq[None, :]
    np.maximum(d2, 0, out=d2)
    return d2


def min_distances(queries: np.ndarray, exemplars: np.ndarray) -> np.ndarray:
    """(n,) float64 Euclidean distance of each query row (n, 128) to its nearest exemplar row
    (k, 128); inf for every query when there is no exemplar."""
    if not len(queries) or not len(exemplars):
        return np.full(len(queries), np.inf, dtype=np.float64)
    q = np.asarray(queries, dtype=np.float64)
    e = np.asarray(exemplars, dtype=np.float64)
    d2 = squared_distances(q, e, np.einsum("ij,ij->i", q, q), np.einsum("ij,ij->i", e, e))
    return np.sqrt(d2.min(axis=1))


def ml_threads(threads: int | None = None) -> int:
    """CPU threads for the maths: `threads`, else VAULT_ML_THREADS, else 2; at least 1."""
    if threads is None:
        threads = int(os.environ.get("VAULT_ML_THREADS") or 2)
    return max(1, int(threads))


_controller = None


def blas_threads(n: int):
    """Context: BLAS limited to n threads. Many small matrix products on a busy machine run
    several times faster single-threaded, two of them side by side (measured: 5.8 s against
    31.8 s for one pass over 20k faces at load 9 on 2 cores; 0.7 against 4.3 ms for one
    incremental assignment). The controller is made once: it inspects every loaded library.
    threadpoolctl comes with scikit-learn, in the worker's requirements only: without it (the
    web tier) nothing is limited."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return contextlib.nullcontext()
        _controller = ThreadpoolController()
    return _controller.limit(limits=n, user_api="blas")


# --- exemplars and incremental assignment ----------------------------------------------------


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
        d2 = squared_distances(
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
    nearest = squared_distances(x[first : first + 1], x, sq[first : first + 1], sq)[0]
    for _ in range(1, k):
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, squared_distances(x[chosen[-1:]], x, sq[chosen[-1:]], sq)[0])
    centres = x[chosen].copy()
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        d2 = squared_distances(x, centres, sq, np.einsum("ij,ij->i", centres, centres))
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


def exemplars_interleave(parts: list[np.ndarray], limit: int = MAX_EXEMPLARS) -> np.ndarray:
    """(≤ limit, 128) float32: rows taken in turn from each part (k_i, 128), up to `limit`. A
    person merged by hand keeps exemplars of every look it was merged from, not only the first
    part's, until the next clustering run chooses its own."""
    rows = []
    longest = max((len(part) for part in parts), default=0)
    for i in range(longest):
        rows.extend(part[i] for part in parts if i < len(part))
    if not rows:
        return np.empty((0, EMBEDDING_DIM), dtype="<f4")
    return np.stack(rows[:limit]).astype("<f4")


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
        with blas_threads(1 if len(queries) < 64 else ml_threads(None)):
            d2 = squared_distances(
                queries, self.stacked, np.einsum("ij,ij->i", queries, queries), self.sq
            )
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
