"""The namespace harness itself: hosts reach each other over their private addresses, the root
namespace neither sees nor reaches them, and a lab left by a killed run is removed by the next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from vaultdev import netns

PY = sys.executable


def _serve(host: netns.Host, port: int, directory: Path) -> subprocess.Popen:
    return host.popen(
        [PY, "-m", "http.server", "--bind", host.address, "--directory", str(directory), str(port)]
    )


def _fetch_from(host: netns.Host, url: str) -> subprocess.CompletedProcess:
    code = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=2).read().decode())"
    )
    return host.run([PY, "-c", code], capture_output=True, text=True, timeout=30)


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"condition not met within {timeout} s")


def test_two_hosts_reach_each_other_and_the_root_namespace_is_untouched(lab, tmp_path):
    routes_before = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    links_before = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    a, b = lab.add("a", cpus="0"), lab.add("b", cpus="1")
    lab.start()
    (tmp_path / "hello.txt").write_text("hello from a")
    _serve(a, 8000, tmp_path)

    fetched = _wait(
        lambda: (r := _fetch_from(b, f"http://{a.address}:8000/hello.txt")).returncode == 0 and r,
        timeout=30,
    )
    assert fetched.stdout.strip() == "hello from a"
    # The root namespace has no route to the lab: its network is where it was.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{a.address}:8000/hello.txt", timeout=2)
    assert subprocess.run(["ip", "route"], capture_output=True, text=True).stdout == routes_before
    assert (
        subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout == links_before
    )
    # Each host runs on the CPU it was given.
    shown = b.run([PY, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                  capture_output=True, text=True)  # fmt: skip
    assert shown.stdout.strip() == "[1]"


def test_killing_a_host_stops_everything_in_it(lab, tmp_path):
    a, b = lab.add("a"), lab.add("b")
    lab.start()
    server = _serve(a, 8001, tmp_path)
    _wait(lambda: _fetch_from(b, f"http://{a.address}:8001/").returncode == 0, timeout=30)
    a.kill()
    assert server.poll() == -signal.SIGKILL
    assert a.pids() == []
    assert _fetch_from(b, f"http://{a.address}:8001/").returncode != 0


def test_a_lab_left_by_a_killed_run_is_removed_by_the_next(netns_ready, tmp_path):
    # A run that made a lab, started a server in it and died without cleaning up.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from vaultdev import netns, networked
        lab = netns.Lab()
        host = lab.add("orphan")
        lab.start()
        host.popen([{PY!r}, "-c", "import time; time.sleep(600)"])
        with host.entered():
            networked.start_networked_postgres(lab.root / "pg", password="x" * 20, port=5432)
        print(lab.pid, host.name, flush=True)
        time.sleep(600)
        """
    )
    run = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid, name = run.stdout.readline().split()
        left = _wait(lambda: netns.namespace_pids(name), timeout=30)
        assert f"{netns.state_dir(int(pid))}/pg" in _command_lines()
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    assert name in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout

    removed = netns.remove_stale()

    assert name in removed
    assert (
        name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    )
    assert not any(netns._alive(p) for p in left)
    assert not netns.state_dir(int(pid)).exists()
    # Its PostgreSQL (whose parent died) was stopped with pg_ctl, not left running.
    assert f"{netns.state_dir(int(pid))}/pg" not in _command_lines()


def _command_lines() -> str:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return "\n".join(lines)
