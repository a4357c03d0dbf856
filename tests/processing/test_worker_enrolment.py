"""Worker enrolment (DESIGN §14): a key written into Valkey by anyone who can write there gets
no grant and no job unless its advert carries the tag that only the enrolment secret makes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rq import Queue

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.crypto import keys
from vault.health.checks import worker_enrolment_check
from vault.photos.models import Photo, ProcessingGrant
from vault.processing import enrolment
from vault.processing.queue import QUEUE
from vault.processing.worker_keys import (
    MODELS_PREFIX,
    PREFIX,
    advertise,
    key_id,
    live_worker_keys,
    worker_adverts,
)
from vaultdev.signin import sign_in
from worker import identity

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
WRONG_SECRET = b"not-the-operators-enrolment-secret-0123456789"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"


@pytest.fixture
def secret(settings):
    settings.VAULT_WORKER_ENROLMENT_SECRET = b"the-operators-enrolment-secret-for-this-test"
    return settings.VAULT_WORKER_ENROLMENT_SECRET


def _attacker_key() -> bytes:
    _private, public = keys.new_keypair()
    return public


def _upload_one(client) -> Photo:
    [outcome] = upload(client, ("cat.jpg", support.real_photo_jpeg("chelsea.png")))
    return Photo.objects.get(pk=outcome["photo"])


def _granted_key_ids(photo: Photo) -> set[str]:
    return set(ProcessingGrant.objects.filter(photo=photo).values_list("worker_key_id", flat=True))


def _queued_jobs(redis_conn) -> int:
    return Queue(QUEUE, connection=redis_conn).count


@pytest.fixture
def owner_client(client, owner):
    sign_in(client, owner, PASSWORD)
    return client


def test_a_bare_key_written_by_hand_gets_no_grant_and_no_job(owner_client, redis_conn, secret):
    attacker = _attacker_key()
    # What anyone who can write to Valkey could do before enrolment existed.
    redis_conn.set(PREFIX + key_id(attacker), attacker, ex=300)

    photo = _upload_one(owner_client)

    assert live_worker_keys() == {}
    assert _granted_key_ids(photo) == set()
    assert _queued_jobs(redis_conn) == 0
    photo.refresh_from_db()
    assert photo.state == Photo.State.PENDING
    [advert] = worker_adverts()
    assert advert.key_id == key_id(attacker) and not advert.enrolled


def test_a_key_tagged_with_the_wrong_secret_gets_no_grant_and_no_job(
    owner_client, redis_conn, secret
):
    attacker = _attacker_key()
    advertise(attacker, ttl=300, worker="rogue", host="rogue-host", secret=WRONG_SECRET)

    photo = _upload_one(owner_client)

    assert _granted_key_ids(photo) == set()
    assert _queued_jobs(redis_conn) == 0


def test_an_enrolled_workers_tag_replayed_on_another_key_gets_no_grant(
    owner_client, redis_conn, secret
):
    identity.forget()
    genuine = identity.current()
    advertise(genuine.public_key, ttl=300, worker="genuine", host="box")
    # The attacker reads the genuine advert (Valkey is readable to them) and puts its tag,
    # expiry, host and name on a key of their own.
    advert = json.loads(redis_conn.get(PREFIX + genuine.key_id))
    attacker = _attacker_key()
    advert["key"] = base64.b64encode(attacker).decode()
    redis_conn.set(PREFIX + key_id(attacker), json.dumps(advert), ex=300)

    photo = _upload_one(owner_client)

    # Only the genuine worker is granted the photo, and it processes it.
    assert _granted_key_ids(photo) == {genuine.key_id}
    assert set(live_worker_keys()) == {genuine.key_id}
    assert run_jobs() == ["ready"]
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    identity.forget()


@pytest.mark.parametrize("field", ["host", "worker", "expires_at"])
def test_an_advert_changed_after_tagging_is_not_enrolled(redis_conn, secret, field):
    identity.forget()
    me = identity.current()
    advertise(me.public_key, ttl=300, worker="w1", host="box")
    advert = json.loads(redis_conn.get(PREFIX + me.key_id))
    advert[field] = advert[field] + 3600 if field == "expires_at" else "elsewhere"
    redis_conn.set(PREFIX + me.key_id, json.dumps(advert), ex=300)

    assert live_worker_keys() == {}
    identity.forget()


def test_a_copied_advert_past_its_expiry_is_not_enrolled(redis_conn, secret):
    """Setting an old advert of a key again (Valkey's TTL renewed by hand) does not make it
    count past the expiry its tag covers."""
    me = identity.current()
    expires_at = int(time.time()) - enrolment.CLOCK_SKEW - 1
    tag = enrolment.enrolment_tag(
        secret, public_key=me.public_key, expires_at=expires_at, host="box", worker="w1"
    )
    advert = {
        "key": base64.b64encode(me.public_key).decode(),
        "expires_at": expires_at,
        "host": "box",
        "worker": "w1",
        "tag": base64.b64encode(tag).decode(),
    }
    redis_conn.set(PREFIX + me.key_id, json.dumps(advert), ex=300)
    assert live_worker_keys() == {}
    identity.forget()


def test_the_secret_is_not_in_valkey(redis_conn, secret):
    me = identity.current()
    advertise(me.public_key, ttl=300, worker="w1", host="box")
    assert set(live_worker_keys()) == {me.key_id}
    forms = {secret, base64.b64encode(secret), secret.hex().encode()}
    for name in redis_conn.scan_iter("*"):
        value = redis_conn.dump(name)
        assert not any(form in value for form in forms), name
    identity.forget()


def _settings_in_subprocess(env: dict, code: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VAULT_WORKER_")}, **env}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "vault.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_secret_is_read_from_a_file_and_a_short_one_is_refused(tmp_path):
    secret_file = tmp_path / "enrolment"
    secret_file.write_text("s" * 40 + "\n")
    secret_file.chmod(0o600)
    code = "from django.conf import settings as s; print(s.VAULT_WORKER_ENROLMENT_SECRET.decode())"
    result = _settings_in_subprocess({"VAULT_WORKER_ENROLMENT_SECRET_FILE": str(secret_file)}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s" * 40

    short = _settings_in_subprocess({"VAULT_WORKER_ENROLMENT_SECRET": "short"}, "pass")
    assert short.returncode != 0
    assert "at least 32 characters" in short.stderr
    assert "short'" not in short.stderr  # the value itself is not echoed


def test_unset_secret_is_derived_from_the_secret_key_and_deploy_check_warns(settings):
    """One box (make run, tests): web and workers share SECRET_KEY, so its derivation enrols
    them; `check --deploy` says that workers on other hosts need the secret set."""
    settings.VAULT_WORKER_ENROLMENT_FROM_SECRET_KEY = True
    assert [message.id for message in worker_enrolment_check()] == ["vault.W001"]
    settings.VAULT_WORKER_ENROLMENT_FROM_SECRET_KEY = False
    assert worker_enrolment_check() == []


def test_healthz_shows_each_workers_host_and_an_unenrolled_key(redis_conn, secret):
    from vault.health.selectors import workers_check
    from worker.vault_worker import VaultWorker

    genuine = VaultWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn)
    genuine.register_birth()
    genuine.heartbeat()  # advertises its key, tagged with the secret, naming this host
    rogue = VaultWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn)
    rogue.register_birth()
    advertise(_attacker_key(), ttl=60, worker=rogue.name, host="rogue", secret=WRONG_SECRET)

    check = workers_check()
    rows = {row["name"]: row for row in check.detail["workers"]}
    assert rows[genuine.name]["enrolled"] is True
    assert rows[genuine.name]["host"] == django_settings.VAULT_WORKER_HOST
    assert rows[rogue.name]["enrolled"] is False and rows[rogue.name]["host"] == "rogue"
    assert check.detail["processing_keys"] == 1 and check.detail["unenrolled_keys"] == 1
    identity.forget()


@pytest.mark.parametrize(
    "value",
    [
        b"[" * 100_000,  # nested past Python's recursion limit
        b"\xff\xfe\x00not utf-8",
        json.dumps({"key": 1, "tag": [], "expires_at": "soon", "host": {}, "worker": None}),
        json.dumps(["key", "tag"]),
        b'{"key": "' + b"A" * 1_000_000 + b'"}',
    ],
    ids=["nested", "not-utf-8", "wrong-types", "a-list", "huge"],
)
def test_a_malformed_advert_changes_nothing_for_the_enrolled_worker(
    owner_client, redis_conn, secret, value
):
    """Whoever can write to Valkey cannot, with one malformed entry, make uploads or /healthz
    fail, nor stop the enrolled worker from being granted photos."""
    identity.forget()
    genuine = identity.current()
    advertise(genuine.public_key, ttl=300, worker="genuine", host="box")
    redis_conn.set(PREFIX + "0000000000000000", value, ex=300)

    photo = _upload_one(owner_client)

    assert _granted_key_ids(photo) == {genuine.key_id}
    assert set(live_worker_keys()) == {genuine.key_id}
    assert owner_client.get("/healthz").status_code in (200, 503)
    identity.forget()


def test_a_worker_whose_secret_is_not_the_webs_says_so_in_its_log(redis_conn, secret, caplog):
    from worker.vault_worker import VaultWorker

    worker = VaultWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn)
    worker.register_birth()
    live_worker_keys()  # the web computes grants: it publishes its check value
    django_settings.VAULT_WORKER_ENROLMENT_SECRET = WRONG_SECRET  # the worker's (other) secret
    with caplog.at_level("INFO", logger="worker.vault_worker"):
        worker.heartbeat()
        worker.heartbeat()  # said once, not at every beat
        django_settings.VAULT_WORKER_ENROLMENT_SECRET = secret  # the operator fixes it
        worker.heartbeat()
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["ERROR", "INFO"], messages
    assert "VAULT_WORKER_ENROLMENT_SECRET is not the web's" in messages[0][1]
    assert not any(secret.decode() in text or WRONG_SECRET.decode() in text for _, text in messages)
    worker.register_death()
    identity.forget()


def test_a_forged_worker_record_does_not_hide_the_real_worker_in_healthz(
    client, redis_conn, secret
):
    """RQ's worker registry and the workers' model lists are as writable as the adverts:
    a malformed record planted there must not blank out /healthz's workers."""
    from worker.vault_worker import VaultWorker

    genuine, bombed = (
        VaultWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn) for _ in "ab"
    )
    for worker in (genuine, bombed):
        identity.forget()  # a key of its own, as in its own process
        worker.register_birth()
        worker.heartbeat()
    redis_conn.sadd("rq:workers", "rq:worker:forged")
    redis_conn.hset("rq:worker:forged", mapping={"pid": "not a number", "birth": "x"})
    redis_conn.set(MODELS_PREFIX + bombed.name, b"[" * 100_000)

    workers = client.get("/healthz").json()["workers"]
    assert workers["ok"] is True, workers
    rows = {row["name"]: row for row in workers["workers"]}
    assert set(rows) == {genuine.name, bombed.name}
    assert all(row["enrolled"] and row["alive"] for row in rows.values())
    assert rows[genuine.name]["loaded_models"] is not None  # what it published
    assert rows[bombed.name]["loaded_models"] is None
    assert workers["unreadable_worker_records"] == 1
    for worker in (genuine, bombed):
        worker.register_death()
    identity.forget()
