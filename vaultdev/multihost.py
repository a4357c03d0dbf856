"""The vault spread over the hosts of a lab (vaultdev/netns.py), as issue 23 deploys it: a web
host with PostgreSQL and Valkey listening on its address (passwords; TCP), a SeaweedFS
cluster (vaultdev/seaweed_cluster.py), worker hosts that share no directory with anyone, and
a client host whose HTTP session signs in and uploads like a browser. Used by
tests/multihost/ and bench/hosts.py.

CPUs: the machine has 2 cores. Worker host "worker-a" is pinned to CPU 0 and "worker-b" to
CPU 1 (taskset); the web, databases, object store and client float over both.
"""

from __future__ import annotations

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

from vaultdev.netns import Host, Lab
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


# --- PostgreSQL and Valkey on the web host, TLS in front --------------------------------


@dataclass
class Databases:
    """PostgreSQL (role "vault", scram-sha-256) and Valkey (ACL users web and worker) on the
    web host's loopback, reached by the other hosts through TLS terminators on the web host's
    address (vaultdev.networked: the PyPI builds have no TLS of their own), whose certificate
    is signed by `ca`. The web, on the same host, uses the loopback."""

    pg: object  # vaultdev.networked.NetworkedPostgres
    valkey: object  # vaultdev.networked.NetworkedValkey
    pg_tls: object  # vaultdev.networked.TlsTerminator
    valkey_tls: object
    ca_file: Path
    address: str
    passwords: dict[str, str]  # "db", "web", "worker"

    def database_url(self, *, tls: bool) -> str:
        if not tls:
            return f"postgresql://vault@127.0.0.1:{PG_PORT}/vault"
        return f"postgresql://vault@{self.address}:{PG_PORT}/vault?sslmode=verify-full"

    def redis_url(self, user: str, *, tls: bool) -> str:
        if not tls:
            return f"redis://{user}@127.0.0.1:{VALKEY_PORT}/0"
        return f"rediss://{user}@{self.address}:{VALKEY_PORT}/0"


def start_databases(host: Host, root: Path, ca) -> Databases:
    """`ca`: the lab's vaultdev.tls.CertificateAuthority."""
    from vaultdev import networked

    server = ca.server_certificate("web", hosts=[host.address])
    passwords = {name: secrets.token_urlsafe(32) for name in ("db", "web", "worker")}
    with host.entered():  # the servers and the terminators' threads are born in the host
        pg = networked.start_networked_postgres(
            root / "pg", password=passwords["db"], port=PG_PORT, clients="127.0.0.1/32"
        )
        host.lab.on_close(pg.stop)
        valkey = networked.start_networked_valkey(
            root / "valkey",
            passwords={"web": passwords["web"], "worker": passwords["worker"]},
            port=VALKEY_PORT,
        )
        host.lab.on_close(valkey.stop)
        pg_tls = networked.TlsTerminator(
            server.cert, server.key, "127.0.0.1", PG_PORT, protocol="postgres",
            listen_host=host.address, listen_port=PG_PORT,
        ).start()  # fmt: skip
        host.lab.on_close(pg_tls.stop)
        valkey_tls = networked.TlsTerminator(
            server.cert, server.key, "127.0.0.1", VALKEY_PORT,
            listen_host=host.address, listen_port=VALKEY_PORT,
        ).start()  # fmt: skip
        host.lab.on_close(valkey_tls.stop)
    return Databases(
        pg=pg, valkey=valkey, pg_tls=pg_tls, valkey_tls=valkey_tls, ca_file=ca.cert_file,
        address=host.address, passwords=passwords,
    )  # fmt: skip


# --- the vault ------------------------------------------------------------------------------


@dataclass
class VaultLab:
    """The running hosts. `web_url` is reachable from the client host only."""

    lab: Lab
    web: Host
    store: Host
    client: Host
    workers: dict[str, Host]
    databases: Databases
    seaweed: SeaweedCluster
    enrolment_secret: str
    web_process: subprocess.Popen | None = None
    worker_processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://{self.web.address}:{WEB_PORT}"

    @property
    def mail_dir(self) -> Path:
        return self.lab.root / "mail"

    def host_dir(self, host: Host, name: str) -> Path:
        path = self.lab.root / "hosts" / host.role / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def _secret_file(self, host: Host, name: str, value: str) -> str:
        path = self.host_dir(host, "secrets") / name
        path.write_text(value)
        path.chmod(0o600)
        return str(path)

    def env(self, host: Host, **extra: str) -> dict[str, str]:
        """A host's environment: its own data, var, home and temporary directories, its own
        SECRET_KEY, its secrets in files of its own (the CA certificate copied in: no host
        reads another's files); the web reaches the databases on its loopback, the workers
        through TLS with verify-full, as the `worker` Valkey ACL user."""
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        is_web = host is self.web
        ca = self.host_dir(host, "secrets") / "ca.pem"
        shutil.copyfile(self.databases.ca_file, ca)
        redis_user = "web" if is_web else "worker"
        database_url = self.databases.database_url(tls=not is_web)
        if not is_web:
            database_url += f"&sslrootcert={ca}"
        store = {**self.seaweed.env(), "VAULT_S3_CA_FILE": str(ca)}
        store["VAULT_S3_SECRET_KEY_FILE"] = self._secret_file(
            host, "s3", store.pop("VAULT_S3_SECRET_KEY")
        )
        env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "vault.settings",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": self.web.address,
            "DEBUG": "false",
            "STATIC_MANIFEST": "false",
            "DATABASE_URL": database_url,
            "DB_PASSWORD_FILE": self._secret_file(host, "db", self.databases.passwords["db"]),
            "REDIS_URL": self.databases.redis_url(redis_user, tls=not is_web),
            "REDIS_PASSWORD_FILE": self._secret_file(
                host, "redis", self.databases.passwords[redis_user]
            ),
            "VAULT_WORKER_ENROLMENT_SECRET_FILE": self._secret_file(
                host, "enrolment", self.enrolment_secret
            ),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "VAULT_DATA_DIR": str(self.host_dir(host, "data")),
            "VAULT_VAR_DIR": str(self.host_dir(host, "var")),
            "HOME": str(self.host_dir(host, "home")),
            "TMPDIR": str(self.host_dir(host, "tmp")),
            **store,
            **extra,
        }
        if not is_web:
            env["REDIS_CA_FILE"] = str(ca)
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

    def _finished_photo_jobs(self) -> list:
        """RQ's records of the photo_process jobs that made a photo ready (kept result_ttl =
        500 s after a job ends)."""
        from rq.job import Job as RqJob

        from vault.processing.queue import SERIALIZER

        with self.web.entered():
            conn = self.redis()
            ids = [key.decode().removeprefix("rq:job:") for key in conn.scan_iter("rq:job:*")]
            jobs = RqJob.fetch_many(
                [i for i in ids if ":" not in i], connection=conn, serializer=SERIALIZER
            )
            return [
                job
                for job in jobs
                if job is not None
                and job.func_name == "worker.jobs.photo_process"
                and job.get_status(refresh=False) == "finished"
                and job.return_value() == "ready"
            ]

    def jobs_by_worker(self) -> dict[str, str]:
        """{photo id: the worker host whose job made it ready}, from RQ's job records."""
        return {
            str(job.args[0]): (job.worker_name or "").rsplit("-", 1)[0]
            for job in self._finished_photo_jobs()
        }

    def job_times(self, photo_ids: list[str]) -> dict[str, tuple[float, float]]:
        """{photo id: (start, end) of the job that made it ready, in seconds (epoch)}."""
        wanted = set(photo_ids)
        return {
            str(job.args[0]): (job.started_at.timestamp(), job.ended_at.timestamp())
            for job in self._finished_photo_jobs()
            if str(job.args[0]) in wanted
        }

    def current_photo(self, role: str) -> str | None:
        """The photo whose job the worker on host `role` is running, from its RQ worker record
        (None when it is between jobs)."""
        from rq.worker import Worker

        from vault.processing.queue import SERIALIZER

        with self.web.entered():
            conn = self.redis()
            for worker in Worker.all(connection=conn, serializer=SERIALIZER):
                if worker.name.rsplit("-", 1)[0] == role:
                    job = worker.get_current_job()
                    if job is not None and job.func_name == "worker.jobs.photo_process":
                        return str(job.args[0])
        return None

    def log(self, name: str) -> str:
        path = self.lab.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def redis(self):
        """A connection as the web's ACL user. Use it inside `with vault.web.entered():`, so
        that its sockets are made in the web host."""
        import redis

        return redis.Redis(
            host="127.0.0.1",
            port=VALKEY_PORT,
            username="web",
            password=self.databases.passwords["web"],
        )

    def live_worker_keys(self) -> dict[str, str]:
        """{key id: worker host} of the live worker keys enrolled with the lab's secret (the
        keys the web grants photos to)."""
        from vault.processing.worker_keys import worker_adverts

        with self.web.entered():
            adverts = worker_adverts(self.redis(), secret=self.enrolment_secret.encode())
        return {advert.key_id: advert.host for advert in adverts if advert.enrolled}

    def sql(self, query: str, params=()) -> list[tuple]:
        """Read the vault's database from the test: the superuser over its unix socket (a file,
        reached from any namespace)."""
        import psycopg

        pg = self.databases.pg
        with psycopg.connect(
            host=str(pg.pgdata), port=PG_PORT, user="postgres", dbname="vault"
        ) as conn:
            return conn.execute(query, params).fetchall()


def start_vault_lab(lab: Lab, *, workers: tuple[str, ...] = ("worker-a", "worker-b")) -> VaultLab:
    """Add the hosts to `lab`, start it, the databases, the SeaweedFS cluster and the web; the
    caller starts the workers (`start_workers`)."""
    web, store, client = lab.add("web"), lab.add("store"), lab.add("client")
    hosts = {role: lab.add(role, cpus=WORKER_CPUS.get(role)) for role in workers}
    lab.start()
    from vaultdev.tls import CertificateAuthority

    ca = CertificateAuthority(lab.root / "pki")
    databases = start_databases(web, lab.root, ca)
    cluster = start_seaweed_cluster(
        store,
        lab.root / "weed",
        tls=ca.server_certificate("store", hosts=[store.address]),
        ca_file=ca.cert_file,
    )
    vault = VaultLab(
        lab=lab, web=web, store=store, client=client, workers=hosts, databases=databases,
        seaweed=cluster, enrolment_secret=secrets.token_urlsafe(32),
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
