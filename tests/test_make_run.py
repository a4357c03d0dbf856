"""`make run`'s supervisor (vaultdev/run.py) on its own embedded servers: it serves the vault
with a worker and its own CSS, shows plain error pages (debug is off), starts the worker again
when it is killed (as the out-of-memory killer would), and stops everything on SIGTERM."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from vaultdev.pytest_plugin import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker_pids(supervisor: int) -> list[int]:
    """Pids of `rqworker` processes whose parent is the supervisor."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == supervisor and b"rqworker" in cmdline:
            found.append(int(status.parent.name))
    return found


def _fetch(url: str, **options) -> tuple[int, object, bytes]:
    try:
        request = urllib.request.Request(url, **options)  # noqa: S310 - our own http:// URL
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _assert_safe_for_visitors(base: str) -> None:
    """Debug off, yet the stylesheet is served; a broken form post gets a small plain page."""
    status, headers, _ = _fetch(f"{base}/static/css/vault.css")
    assert (status, headers["Content-Type"].split(";")[0]) == (200, "text/css")
    # A multipart body Django cannot parse, past the CSRF cookie check: with DEBUG this was
    # a 118 KB technical page with the traceback and the settings.
    status, headers, body = _fetch(
        f"{base}/accounts/login/",
        data=b"--x\r\nbroken",
        method="POST",
        headers={"Content-Type": "multipart/form-data", "Cookie": "csrftoken=" + "a" * 32},
    )
    assert status == 400 and len(body) < 10_000
    assert b"Traceback" not in body and b"SECRET_KEY" not in body
    assert b"/static/css/vault.css" in body
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_make_run_serves_safely_restarts_a_killed_worker_and_stops_cleanly():
    port = _free_port()
    var = Path(tempfile.mkdtemp(prefix="spv-run-", dir="/tmp"))
    env = dict(os.environ)
    # make run's own defaults, not the test run's: these three would hide a missing default.
    for name in ("ALLOWED_HOSTS", "STATIC_MANIFEST", "EMAIL_BACKEND"):
        env.pop(name, None)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DEBUG"):
        env.pop(name, None)  # the supervisor's own servers and settings, not the test run's
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "vaultdev.run", "--var", str(var), "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(supervisor.stdout), daemon=True)
    reader.start()
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(healthy, timeout=240, interval=1)  # a worker is up with its key and model
        _assert_safe_for_visitors(f"http://127.0.0.1:{port}")
        [first] = _worker_pids(supervisor.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: any("worker 1 exited with -9; restarting" in x for x in lines), 30)
        wait_until(lambda: (pids := _worker_pids(supervisor.pid)) and pids != [first], 30)
        assert supervisor.poll() is None  # the web server and the rest kept running
        wait_until(healthy, timeout=240, interval=1)  # the new worker advertises its key
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(120)
        finally:
            if supervisor.poll() is None:
                os.killpg(supervisor.pid, signal.SIGKILL)
    reader.join(5)
    shutil.rmtree(var, ignore_errors=True)
    assert supervisor.returncode == 0
    assert any("stopped; data kept in var/" in line for line in lines), "".join(lines)[-3000:]
    assert not _worker_pids(supervisor.pid)
