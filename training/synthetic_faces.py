"""Synthetic face embeddings with known identities, shaped like dlib's 128-D descriptors: the
clustering benchmark (bench/faces_clustering.py) times the clustering on them and the faces
evaluation (training/evaluate_faces.py) scores it on them, from this one definition."""

from __future__ import annotations

import numpy as np

DIM = 128
SAME_SPREAD = 0.0244  # per dimension: two faces of one person ~0.39 apart (x sqrt(2 * 128))
CENTRE_NORM = 0.565  # centres ~0.8 apart; with the spread, two people's faces ~0.89 apart
OFFSET_NORM = 1.4  # dlib embeddings share a large common part (norms ~1.5): float32 realism
STRANGERS = 0.10  # share of faces that are one-off strangers (seen once, in no person)


def synthetic_embeddings(
    n: int, people: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x (n, 128) float32, person (n,) int with -1 for a stranger, photo id per face): faces
    of `people` people plus STRANGERS of one-off faces, about two faces a photo."""
    rng = np.random.default_rng(seed)
    strangers = int(n * STRANGERS)
    weights = 1.0 / np.arange(1, people + 1) ** 0.8
    sizes = rng.multinomial(n - strangers, weights / weights.sum())
    centres = rng.normal(size=(people + strangers, DIM))
    centres *= CENTRE_NORM / np.linalg.norm(centres, axis=1, keepdims=True)
    offset = rng.normal(size=DIM)
    offset *= OFFSET_NORM / np.linalg.norm(offset)
    labels = np.concatenate([np.repeat(np.arange(people), sizes), np.full(strangers, -1)])
    which = np.concatenate([np.repeat(np.arange(people), sizes), people + np.arange(strangers)])
    spread = SAME_SPREAD * rng.lognormal(0.0, 0.15, size=(n, 1))  # some faces blurrier
    x = offset + centres[which] + rng.normal(size=(n, DIM)) * spread
    order = rng.permutation(n)
    x, labels = x[order].astype(np.float32), labels[order]
    # about two faces a photo, and a person at most once in a photo (as in real photos)
    photos = max(1, n // 2)
    photo_of = rng.integers(0, photos, size=n)
    for person in range(people):
        mine = np.flatnonzero(labels == person)
        photo_of[mine] = rng.choice(photos, size=len(mine), replace=False)
    return x, labels, [f"photo{p}" for p in photo_of]
