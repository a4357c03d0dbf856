"""The face maths both tiers share (vault/people/embeddings.py): it loads nothing the web must not
load, a sealed embedding opens only for its own row, and the web's distances are the worker's.
(Exemplars and incremental assignment: tests/worker/test_clustering.py.)"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

from tests.people import synthetic
from vault.people import embeddings
from vault.people.sealing import embedding_aad, exemplars_aad

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_shared_maths_loads_neither_django_nor_the_ml_stack():
    probe = (
        "import json, sys, numpy as np; from vault.people import embeddings as e;"
        "e.min_distances(np.ones((2, 128)), np.zeros((3, 128)));"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "numpy" in loaded  # the probe did run the maths
    heavy = {"django", "sklearn", "scipy", "tensorflow", "keras", "mediapipe", "dlib", "worker"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_a_sealed_embedding_opens_only_for_its_own_face_and_key():
    key, other_key = os.urandom(32), os.urandom(32)
    face, other_face = uuid.uuid4(), uuid.uuid4()
    rows = np.stack([synthetic.look(1, 0), synthetic.look(1, 1)])
    sealed = embeddings.embeddings_seal(key, rows, embedding_aad(face))
    opened = embeddings.embeddings_open(key, sealed, embedding_aad(face))
    assert opened.shape == (2, 128) and opened.dtype == np.float32
    assert np.array_equal(opened, rows)
    # moved to another face, to another field, or opened with another owner's key: nothing
    assert embeddings.embeddings_open(key, sealed, embedding_aad(other_face)) is None
    assert embeddings.embeddings_open(key, sealed, exemplars_aad(face)) is None
    assert embeddings.embeddings_open(other_key, sealed, embedding_aad(face)) is None
    assert embeddings.embeddings_open(key, None, embedding_aad(face)) is None


def test_the_webs_distances_are_the_workers():
    exemplars = np.stack([synthetic.look(1, n) for n in range(6)])
    queries = np.stack([synthetic.look(1, 10), synthetic.look(2, 0), synthetic.look(3, 0)])
    web = embeddings.min_distances(queries, exemplars)  # review, in the web process
    worker = embeddings.ExemplarIndex({"p": exemplars}).distances(queries)[:, 0]
    assert np.allclose(web, worker, atol=1e-4)
    assert web[0] < embeddings.DISTANCE_THRESHOLD < embeddings.REVIEW_THRESHOLD < web[1]
    assert np.isinf(embeddings.min_distances(queries, np.empty((0, 128)))).all()


def test_a_person_made_of_parts_keeps_exemplars_of_every_part():
    big = np.stack([synthetic.look(1, n) for n in range(40)])
    small = np.stack([synthetic.look(2, n) for n in range(3)])
    rows = embeddings.exemplars_interleave([big, small])
    assert rows.shape == (embeddings.MAX_EXEMPLARS, 128)
    assert all(any(np.array_equal(row, part) for row in rows) for part in small)
    assert embeddings.exemplars_interleave([]).shape == (0, 128)
