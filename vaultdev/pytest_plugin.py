"""pytest plugin: throwaway embedded PostgreSQL and Valkey for a test run, a real RQ worker
process, and real Chromium through Playwright.

Loaded with `-p vaultdev.pytest_plugin` (pyproject.toml) so that it runs before Django's settings
are imported. Servers start lazily, on the first test that needs the database or the queue, and
are removed when the run ends. Set DATABASE_URL / REDIS_URL to use servers of your own instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("VAULT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_OWN_DATABASE = "DATABASE_URL" not in os.environ
_OWN_REDIS = "REDIS_URL" not in os.environ

# Settings are read from the environment when Django starts, right after this import.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("STATIC_MANIFEST", "false")
# Placeholders until the servers are up; the fixtures below point the settings at them.
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@/vault?host=/nonexistent")
os.environ.setdefault("REDIS_URL", "unix:///nonexistent/valkey.sock")
# Playwright's sync API keeps an event loop in the main thread; Django's ORM refuses to run
# beside one unless told that this is deliberate (the live server runs in its own thread).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class Services:
    """The servers behind one test run, and the URLs the subprocesses need."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._pg = None
        self._valkey = None
        self.redis_url = os.environ["REDIS_URL"]
        self._database_url = os.environ["DATABASE_URL"]

    def start(self) -> None:
        from vaultdev.services import start_postgres, start_valkey

        if not (_OWN_DATABASE or _OWN_REDIS):
            return
        # Short path: unix sockets must stay under ~100 bytes.
        self._root = Path(tempfile.mkdtemp(prefix="spv-", dir="/tmp"))
        atexit.register(self.stop)
        if _OWN_DATABASE:
            self._pg = start_postgres(self._root / "pg")
            self._database_url = self._pg.url("postgres")
        if _OWN_REDIS:
            self._valkey = start_valkey(
                self._root / "valkey", self._root / "valkey.sock", persist=False
            )
            self.redis_url = self._valkey.url

    def database_url(self, name: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self._database_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def stop(self) -> None:
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


@pytest.fixture(scope="session")
def vault_services():
    from django.conf import settings

    from vault.env import database_from_url

    services = Services()
    services.start()
    # Mutate in place: Django's connection handler holds on to these very dicts.
    settings.DATABASES["default"].update(
        {
            key: value
            for key, value in database_from_url(services.database_url("vault")).items()
            if key != "NAME"
        }
    )
    from vault.processing.queue import QUEUE

    settings.RQ_QUEUES[QUEUE]["URL"] = services.redis_url
    os.environ["REDIS_URL"] = services.redis_url
    yield services
    services.stop()


@pytest.fixture(scope="session")
def seaweed():
    """A real `weed server -s3` for the run (started on the first test that asks for it), with
    one bucket and one credential pair: a vaultdev.services.Seaweed."""
    from vaultdev.services import start_seaweed

    server = start_seaweed()
    atexit.register(server.stop)
    yield server
    server.stop()
    atexit.unregister(server.stop)


def _use_seaweed(settings, server) -> None:
    settings.VAULT_BLOB_STORE = "s3"
    settings.VAULT_S3_ENDPOINT = server.endpoint
    settings.VAULT_S3_BUCKET = server.bucket
    settings.VAULT_S3_ACCESS_KEY = server.access_key
    settings.VAULT_S3_SECRET_KEY = server.secret_key
    settings.VAULT_S3_REGION = "us-east-1"


@pytest.fixture
def s3_blob_store(seaweed, settings):
    """Switch this test's vault (and the workers it starts) to the S3 store on `seaweed`;
    returns the Seaweed."""
    _use_seaweed(settings, seaweed)
    return seaweed


@pytest.fixture(autouse=True)
def _test_blob_store(request):
    """VAULT_TEST_BLOB_STORE=s3 runs every test on the S3 store (a real weed server)."""
    if os.environ.get("VAULT_TEST_BLOB_STORE", "local") != "s3":
        yield
        return
    _use_seaweed(request.getfixturevalue("settings"), request.getfixturevalue("seaweed"))
    yield


def blob_store_env(settings) -> dict[str, str]:
    """The environment that points a child process at the blob store these settings name."""
    if getattr(settings, "VAULT_BLOB_STORE", "local") != "s3":
        return {"VAULT_BLOB_STORE": "local"}
    env = {
        "VAULT_BLOB_STORE": "s3",
        "VAULT_S3_ENDPOINT": settings.VAULT_S3_ENDPOINT,
        "VAULT_S3_BUCKET": settings.VAULT_S3_BUCKET,
        "VAULT_S3_ACCESS_KEY": settings.VAULT_S3_ACCESS_KEY,
        "VAULT_S3_SECRET_KEY": settings.VAULT_S3_SECRET_KEY,
        "VAULT_S3_REGION": settings.VAULT_S3_REGION,
    }
    # A vault moving to the object store still reads blobs not yet moved from the old
    # directory: a worker started without it would find those originals missing.
    fallback = getattr(settings, "VAULT_BLOB_FALLBACK_DIR", None)
    if fallback:
        env["VAULT_BLOB_FALLBACK_DIR"] = str(fallback)
    return env


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    # Real Argon2id cost belongs to the key wraps (vault.crypto), not to Django's login hash.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Likewise the Argon2id of the key wrap: the real cost is measured in bench/crypto.py.
    from vault.crypto import Argon2Params

    settings.VAULT_ARGON2_PARAMS = Argon2Params.FOR_TESTS


@pytest.fixture
def redis_conn(vault_services):
    """A connection to the test Valkey, emptied before each test."""
    from vault.processing.queue import connection

    conn = connection()
    conn.flushdb()
    return conn


@pytest.fixture
def start_worker(vault_services, redis_conn, transactional_db):
    """Start real `manage.py rqworker` processes against the test database, Valkey and data
    directory: `start_worker(**extra_env)` returns a WorkerProcess; all are stopped after the
    test."""
    from django.conf import settings
    from django.db import connection

    started = []

    def start(**extra_env: str) -> WorkerProcess:
        from vault.processing.worker_keys import live_worker_keys

        before = set(live_worker_keys())
        worker = WorkerProcess(
            database_url=vault_services.database_url(connection.settings_dict["NAME"]),
            redis_url=vault_services.redis_url,
            VAULT_DATA_DIR=str(settings.VAULT_DATA_DIR),
            **{**blob_store_env(settings), **extra_env},
        )
        worker.start()
        started.append(worker)
        # Ready once it advertises its key, which it does after loading its models (seconds on
        # an idle machine, much longer on a busy CI box).
        wait_until(
            lambda: set(live_worker_keys()) - before or worker.process.poll() is not None,
            timeout=WORKER_START_TIMEOUT,
            interval=0.2,
        )
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited at start:\n{worker.output()[-4000:]}")
        return worker

    yield start
    for worker in started:
        worker.stop()
        # Shown by pytest only when the test failed (it captures the test's stderr).
        sys.stderr.write(f"--- worker output ---\n{worker.output()[-8000:]}\n")


WORKER_START_TIMEOUT = 180  # seconds: a safety net, the wait ends when the worker is ready


@pytest.fixture
def rq_worker(start_worker):
    """One real worker process (see start_worker)."""
    return start_worker()


class WorkerProcess:
    def __init__(self, *, database_url: str, redis_url: str, **extra_env: str) -> None:
        self.env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, **extra_env)
        self.process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="spv-worker-", suffix=".log")  # noqa: SIM115

    def output(self) -> str:
        """Everything the worker has printed so far (its log lines)."""
        return Path(self._log.name).read_text(errors="replace")

    def start(self) -> None:
        from vault.processing.queue import QUEUE

        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rqworker",
                QUEUE,
                "--worker-class",
                "worker.vault_worker.VaultWorker",
                # The shortest TTL RQ allows: a killed worker's key expires within 20 s.
                "--worker-ttl",
                "20",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def children(self) -> list[int]:
        """Pids of the worker's children: RQ forks a work horse per job, in its own group."""
        if self.process is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """SIGKILL the worker and its work horse at once: a crash, not a shutdown."""
        if self.process is None or self.process.poll() is not None:
            return
        horses = self.children()
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_until(predicate, timeout: float = 30, interval: float = 0.1):
    """Poll predicate() until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# Every page of the context reports what its Content-Security-Policy blocked (Chromium also logs
# it to the console, but the event says which directive and which URL).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__vaultCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline code"} ` +
    `in ${event.sourceFile || event.documentURI}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh browser context. The test fails if any page of the context violated
    the Content-Security-Policy, logged an error to the console or threw an uncaught error.
    A test that provokes an error on purpose removes it from `page.vault_problems`."""
    context = browser.new_context(base_url=live_server.url)
    problems: list[str] = []
    context.expose_binding(
        "__vaultCspViolation", lambda source, text: problems.append(f"CSP violation: {text}")
    )
    context.add_init_script(_CSP_LISTENER)

    def on_console(message) -> None:
        if message.type == "error":
            where = message.location.get("url") or "(no URL)"
            problems.append(f"console error: {message.text} at {where}")

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(f"uncaught error: {error.error}"))
    page = context.new_page()
    page.vault_problems = problems
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)
