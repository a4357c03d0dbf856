"""`make run`: embedded PostgreSQL and Valkey under var/, migrations, the web server and
VAULT_WORKERS workers (default 1).

Every process it starts is stopped again on Ctrl-C or SIGTERM, and the data under var/ is kept
for the next run. Children run in their own sessions so that the terminal's Ctrl-C reaches only
this supervisor, which then stops them in order: web, workers, queue, database. A worker that
dies (a crash, the out-of-memory killer) is started again, as systemd does in production; its
photos are granted afresh to the new worker on their owner's next visit. If the web server
exits, everything stops.

Debug is off, as in production: error pages are the plain ones a visitor would see.
`DEBUG=true make run` turns Django's technical pages (tracebacks, settings) on.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vault.processing.queue import QUEUE
from vaultdev.services import child_env, start_postgres, start_valkey, wait_for_exit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The vault's worker class advertises the worker's in-memory key (DESIGN §4).
WORKER_OPTIONS = ["--worker-class", "worker.vault_worker.VaultWorker", "--worker-ttl", "30"]


def _stop_group(name: str, process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_for_exit(process, timeout):
        print(f"[run] {name} did not stop in {timeout:.0f} s; killing it", flush=True)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _worker_count() -> int:
    raw = os.environ.get("VAULT_WORKERS", "1")
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"VAULT_WORKERS must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def run_env(*, database_url: str, redis_url: str, var: Path) -> dict[str, str]:
    """The environment of every process `make run` starts."""
    return child_env(
        database_url=database_url,
        redis_url=redis_url,
        # A generated secret key under var/, localhost as the host, static files from the
        # source folders and emails in this terminal; no DEBUG needed for any of them.
        VAULT_DEV_DEFAULTS="true",
        DEBUG=os.environ.get("DEBUG", "false"),
        VAULT_VAR_DIR=str(var),
        PYTHONUNBUFFERED="1",
    )


def _start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


# Like systemd's StartLimitBurst: a worker that dies this often in this many seconds is broken
# (a bad setting, a missing library), and restarting it forever would hide that.
RESTART_BURST, RESTART_INTERVAL = 5, 60.0


def _too_many_restarts(history: list[float]) -> bool:
    now = time.monotonic()
    history[:] = [moment for moment in history if now - moment < RESTART_INTERVAL] + [now]
    return len(history) > RESTART_BURST


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", type=Path, default=ROOT / "var")
    parser.add_argument("--addr", default="127.0.0.1:8000")
    args = parser.parse_args()
    var = args.var.resolve()
    (var / "run").mkdir(parents=True, exist_ok=True)

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    print("[run] starting PostgreSQL (var/pgdata) and Valkey (var/run/valkey.sock)", flush=True)
    pg = start_postgres(var / "pgdata", database="vault")
    valkey = None
    children: list[tuple[str, subprocess.Popen]] = []
    try:
        valkey = start_valkey(var / "valkey", var / "run" / "valkey.sock", persist=True)
        env = run_env(database_url=pg.url("vault"), redis_url=valkey.url, var=var)
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        commands = {"web": [PYTHON, "manage.py", "runserver", "--noreload", args.addr]}
        for number in range(1, _worker_count() + 1):
            commands[f"worker {number}"] = [PYTHON, "manage.py", "rqworker", QUEUE]
            commands[f"worker {number}"] += WORKER_OPTIONS
        for name, command in commands.items():
            children.append((name, _start(command, env)))
        debug = env["DEBUG"].strip().lower() in {"1", "true", "yes", "on"}
        print(
            f"[run] the vault is at http://{args.addr}/  (health: http://{args.addr}/healthz)\n"
            "[run] development emails (sign-up and login codes) are printed in this terminal\n"
            + (
                "[run] DEBUG is on: error pages show tracebacks and settings\n"
                if debug
                else "[run] error pages are plain; DEBUG=true make run shows tracebacks\n"
            )
            + "[run] press Ctrl-C to stop everything",
            flush=True,
        )
        restarts: dict[str, list[float]] = {}
        while not stopping:
            for index, (name, process) in enumerate(children):
                if process.poll() is None:
                    continue
                if name == "web" or _too_many_restarts(restarts.setdefault(name, [])):
                    print(f"[run] {name} exited with {process.returncode}; stopping", flush=True)
                    stopping = True
                    break
                print(f"[run] {name} exited with {process.returncode}; restarting", flush=True)
                children[index] = (name, _start(commands[name], env))
            time.sleep(0.2)
    finally:
        print("[run] stopping", flush=True)
        for name, process in reversed(children):
            _stop_group(name, process)
        if valkey is not None:
            valkey.stop()
        pg.stop()
        print("[run] stopped; data kept in var/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
