"""Exact DBSCAN over face embeddings, with a pruned neighbour search: the density part of the
full clustering run (worker/clustering.py adds the owner's corrections on top). Pure numpy and
scipy, plus scikit-learn's KMeans for the pivots: worker only (DESIGN §2).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from vault.people.embeddings import blas_threads, ml_threads, squared_distances

# Float32 rounding in the distance bounds of the neighbour search: d^2 = |x|^2 + |y|^2 - 2xy is
# off by ~1e-6 for embeddings of norm ~1.5, so d near 0 (a face on its pivot) by up to ~1e-3;
# widening the candidate windows by this much keeps the search exact.
_BOUND_SLACK = 2e-3
# Cells of the distance blocks computed at once (16 MB of float32): bounds memory at any n.
BLOCK_CELLS = 4_000_000
# Pivots of the neighbour search: one per ~_POINTS_PER_PIVOT faces, at most _MAX_PIVOTS.
_POINTS_PER_PIVOT = 64
_MAX_PIVOTS = 1024
# Core-core edges gathered before they are reduced to a spanning forest (~16 MB each way).
_EDGE_BUFFER = 1_000_000
# Widest spread of distance-to-pivot within one block of rows (see _NeighbourSearch._bucket).
_ROW_SPAN = 0.05


def dbscan(
    x: np.ndarray, *, eps: float, min_samples: int, threads: int | None = None
) -> np.ndarray:
    """DBSCAN labels (n,) int: see dbscan_density."""
    return dbscan_density(x, eps=eps, min_samples=min_samples, threads=threads).labels


@dataclass(frozen=True)
class Density:
    labels: np.ndarray  # (n,) cluster 0.. or -1
    core: np.ndarray  # (n,) bool
    # every neighbour within eps of each non-core point: (point, neighbour, distance) arrays,
    # sorted by point, then distance, then neighbour
    loose: tuple[np.ndarray, np.ndarray, np.ndarray]


def dbscan_density(
    x: np.ndarray, *, eps: float, min_samples: int, threads: int | None = None
) -> Density:
    """DBSCAN of x (n, d) float: labels (n,) int, clusters 0.. numbered by their first member
    and -1 for noise; which points are core; and every neighbour of the non-core points (which
    cluster_faces uses to find the named faces near a free one).

    The same definition as sklearn.cluster.DBSCAN (a core point has at least
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
        return Density(nothing, nothing.astype(bool), (nothing, nothing, nothing.astype(float)))
    search = _NeighbourSearch(x, eps, ml_threads(threads))
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
    return Density(labels, core, (i[non_core], j[non_core], d[non_core]))


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
        with blas_threads(threads):
            self.pivots = _pivots(x)
            self.pivot_sq = np.einsum("ij,ij->i", self.pivots, self.pivots)
            self.bucket = np.empty(n, dtype=np.int64)
            self.to_pivot = np.empty(n, dtype=np.float32)
            step = max(1, BLOCK_CELLS // len(self.pivots))
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
        return np.sqrt(squared_distances(rows, self.pivots[which], rows_sq, self.pivot_sq[which]))

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
        step = max(1, BLOCK_CELLS // max(1, len(col_all)))
        with blas_threads(1), ThreadPoolExecutor(self.threads) as pool:
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
        rows_per_block = max(8, min(1024, BLOCK_CELLS // max(1, len(cand))))
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
                d2 = squared_distances(self.x[rows], self.x[cols], self.sq[rows], self.sq[cols])
                within = d2 <= eps2
                # own bucket: a pair once (row ranked before column), never a point with itself
                same = cand_pivot[keep] == p
                if same.any():
                    within[:, same] &= self.rank[cols[same]][None, :] > self.rank[rows][:, None]
                fn(rows, cols, within, d2)


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
