"""Issue 23's multi-host test, on one machine: network namespaces hold (1) the web with
PostgreSQL and Valkey, (2) a SeaweedFS cluster (master, two volume servers, filer + S3),
(3) and (4) a worker host each, with no directory shared between hosts, and a client host that
signs in and uploads over HTTP. 200 photos go through both workers; one worker host dies in
the middle of a batch and the other finishes it; one volume server dies and every original
still downloads byte for byte; nothing is left half-written."""

from __future__ import annotations

import hashlib
import time

import pytest
from rq.suspension import resume, suspend

from vaultdev import multihost
from vaultdev.samples.lab_photos import WITH_FACE, lab_photos

pytestmark = pytest.mark.slow

FIRST_BATCH = 200
SECOND_BATCH = 40  # uploaded while the workers are suspended: a backlog
READY_TIMEOUT = 300  # seconds: a safety net; every wait ends when its condition holds


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wait_ready(client, photo_ids, *, timeout=READY_TIMEOUT):
    """Poll the status the upload page polls (each poll is an owner visit) until every photo
    is ready; fail at once on a failed photo."""

    def all_ready():
        states = {entry["state"] for entry in client.status(photo_ids).values()}
        assert "failed" not in states and "missing" not in states, states
        return states == {"ready"}

    multihost.wait_for(all_ready, timeout=timeout, interval=0.5, what="every photo ready")


@pytest.fixture
def vault_lab(lab):
    vault = multihost.start_vault_lab(lab)
    yield vault
    # Shown by pytest only when the test failed.
    for name in ("web", *vault.workers):
        print(f"--- {name} ---\n{vault.log(name)[-6000:]}")


def test_two_worker_hosts_a_dead_worker_host_and_a_dead_volume_server(vault_lab):
    vault = vault_lab
    client = multihost.Client(vault)
    client.sign_in()
    vault.start_workers("worker-a", "worker-b")
    # Each worker host enrolled with the operator's secret, over TLS as the worker ACL user.
    assert sorted(vault.live_worker_keys().values()) == ["worker-a", "worker-b"]
    photos = lab_photos(FIRST_BATCH + SECOND_BATCH)
    sent = {}

    # 1. 200 photos through the upload page; both worker hosts process them.
    for name, data, subject in photos[:FIRST_BATCH]:
        sent[client.upload(name, data)] = (data, subject)
    first = list(sent)
    _wait_ready(client, first)
    by_worker = vault.jobs_by_worker()
    assert set(by_worker) >= set(first), "every photo has a finished job record"
    counts = {role: sum(by_worker[p] == role for p in first) for role in vault.workers}
    assert all(count >= FIRST_BATCH // 10 for count in counts.values()), counts

    tagger, faces = vault.sql(
        "SELECT DISTINCT tagged_by, faces_by FROM photos_photo WHERE id = ANY(%s)",
        ([*first],),
    )[0:1][0]
    assert tagger and faces
    rows = vault.sql(
        "SELECT p.id::text, p.state, p.tagged_by, p.faces_by,"
        " (SELECT count(*) FROM photos_tag t WHERE t.photo_id = p.id),"
        " (SELECT count(*) FROM people_face f WHERE f.photo_id = p.id)"
        " FROM photos_photo p WHERE p.id = ANY(%s)",
        ([*first],),
    )
    assert len(rows) == FIRST_BATCH
    for photo_id, state, tagged_by, faces_by, tag_count, face_count in rows:
        assert (state, tagged_by, faces_by) == ("ready", tagger, faces), photo_id
        assert tag_count >= 1, f"{photo_id} ({sent[photo_id][1]}) has no tag"
        if sent[photo_id][1] in WITH_FACE:
            assert face_count >= 1, f"{photo_id} ({sent[photo_id][1]}) has no face"

    # 2. A worker host dies in the middle of a batch: the other finishes every photo. The
    #    batch is uploaded while the workers are suspended, so that it is a backlog.
    with vault.web.entered():
        suspend(vault.redis())
    second = []
    for name, data, subject in photos[FIRST_BATCH:]:
        photo_id = client.upload(name, data)
        sent[photo_id] = (data, subject)
        second.append(photo_id)
    with vault.web.entered():
        resume(vault.redis())
    worker_b = vault.workers["worker-b"]

    def b_in_the_middle_of_a_photo():
        # Frozen, the host cannot finish the photo between the look and the kill.
        worker_b.freeze()
        photo_id = vault.current_photo("worker-b")
        if photo_id and vault.sql("SELECT state FROM photos_photo WHERE id = %s", (photo_id,)) == [
            ("processing",)
        ]:
            return photo_id
        worker_b.thaw()
        return None

    interrupted = multihost.wait_for(
        b_in_the_middle_of_a_photo, timeout=READY_TIMEOUT, interval=0.05, what="B on a photo"
    )
    killed_at = time.monotonic()
    multihost.kill_host(worker_b)
    _wait_ready(client, second)
    print(f"after the worker host died: {time.monotonic() - killed_at:.1f} s to finish the batch")
    print(f"first batch processed per worker host: {counts}")
    assert list(vault.live_worker_keys().values()) == ["worker-a"]
    # The photo B died on was run again, and finished, by A.
    assert vault.jobs_by_worker()[interrupted] == "worker-a"
    assert vault.sql("SELECT attempts FROM photos_photo WHERE id = %s", (interrupted,))[0][0] >= 2

    # 3. A volume server dies: every original still downloads, byte for byte.
    vault.seaweed.kill_volume(0)
    for photo_id, (data, _subject) in sent.items():
        assert _sha(client.download(photo_id)) == _sha(data), photo_id

    # 4. Nothing half-written: no multipart upload left open, no orphan or damaged blob.
    #    Every object in the bucket is a blob row's, and every row's object is there (the
    #    sanity sweep below lists orphans on a local disk only).
    expected = {
        f"{owner}/{photo}/{variant}-{index}.spv"
        for owner, photo, variant, index in vault.sql(
            "SELECT p.owner_id, p.id::text, b.variant, b.index"
            " FROM photos_blob b JOIN photos_photo p ON p.id = b.photo_id"
        )
    }
    with vault.client.entered():
        s3 = vault.seaweed.s3_client()
        assert s3.list_multipart_uploads(Bucket=vault.seaweed.bucket).get("Uploads", []) == []
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=vault.seaweed.bucket)
        stored = {item["Key"] for page in pages for item in page.get("Contents", [])}
    assert stored == expected
    assert len(expected) >= 3 * len(sent)  # original, thumbnail and preview of each
    assert vault.sql("SELECT count(*) FROM photos_photo WHERE state <> 'ready'") == [(0,)]
    # No host keeps a blob (or anything else) in its data directory: all are in the store.
    kept = [p for p in (vault.lab.root / "hosts").glob("*/data/**/*") if p.is_file()]
    assert kept == []
    # Every blob against its row, orphans listed, every chunk decrypted (exit status 1 and
    # the problems otherwise).
    # The workers crossed the network through TLS only, and their ACL user was never refused.
    assert vault.databases.pg_tls.handshakes >= 2 and vault.databases.valkey_tls.handshakes >= 2
    for role in vault.workers:
        assert "NOPERM" not in vault.log(role), role
    report = vault.manage(
        vault.web, "vault_check", "--user", multihost.EMAIL, "--password-stdin", "--chunks",
        stdin=multihost.PASSWORD + "\n",
    )  # fmt: skip
    assert report.startswith("ok:"), report
