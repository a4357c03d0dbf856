"""`make deploy-check`: apply deploy/ansible to a disposable Debian 12 machine on this computer
and use the vault it serves, as an operator and a user would.

1. A Debian 12 (bookworm) root file system made with debootstrap (cached under the work
   directory; the mirror is the one apt on this machine uses), copied afresh for every run.
2. Booted with systemd-nspawn (its own systemd, sharing this computer's network), reached by
   Ansible over SSH on 127.0.0.1:2222.
3. `ansible-playbook site.yml` with secrets in an Ansible Vault file, then a second run that
   must report no change (an upgrade to the same commit).
4. Over HTTPS from outside the machine: the HTTP redirect, the login page and its headers, a
   sign-in with the code from a local SMTP sink, an upload, processing by the worker, the
   original downloaded back byte for byte.
5. A backup by the systemd unit, /healthz showing its age, and `deploy/restore.sh` of it into a
   new database and data directory, checked with the user's password (`vault_check --chunks`
   decrypts every chunk).
6. Inside the machine: sockets (nothing of PostgreSQL or the queue on TCP; the queue refused to
   nginx's user), `systemd-analyze security` of the running units, a worker restart.

Deploys the commit checked out (HEAD), not uncommitted changes. Needs root, debootstrap and
systemd-nspawn (installed with apt when missing). Prints what ran and what did not; exits non-zero
on the first failure. The machine is left under the work directory for inspection (and stopped).
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import json
import os
import re
import secrets
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_DIR = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent
NAME = "vault-check.test"
SSH_PORT = 2222
SMTP_PORT = 2525
PACKAGES = ",".join(
    (
        *("systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "openssh-server"),
        *("ca-certificates", "sudo", "curl", "iproute2"),
    )
)


def say(text: str) -> None:
    print(text, flush=True)


def step(title: str) -> None:
    say(f"\n=== {title} ({time.strftime('%H:%M:%S')})")


class CheckFailed(Exception):
    pass


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("text", True)
    return subprocess.run(command, **kwargs)


# --- the machine ------------------------------------------------------------------------------


def apt_mirror() -> str:
    """The Debian mirror apt on this computer uses (debootstrap needs one)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        block = path.read_text()
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", block, re.M)
        if match and re.search(r"^Suites:.*\bbookworm\b", block, re.M):
            return match.group(1)
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        match = re.search(r"^deb\s+(\S+/debian)\s+bookworm\b", sources.read_text(), re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def ensure_tools() -> None:
    if os.geteuid() != 0:
        raise CheckFailed("run as root: debootstrap and systemd-nspawn need it")
    missing = [tool for tool in ("debootstrap", "systemd-nspawn") if not shutil.which(tool)]
    if missing:
        say(f"installing {', '.join(missing)} with apt")
        packages = {"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container"}
        run(["apt-get", "update", "-qq"], check=True)
        run(
            ["apt-get", "install", "-y", "-qq", *[packages[tool] for tool in missing]],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def ensure_base(work: Path) -> Path:
    base = work / "bookworm-base"
    if (base / "etc" / "os-release").exists():
        say(f"Debian 12 root file system: {base} (cached)")
        return base
    mirror = apt_mirror()
    partial = work / "bookworm-base.partial"
    shutil.rmtree(partial, ignore_errors=True)
    say(f"debootstrap bookworm from {mirror} into {partial}")
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            "bookworm",
            str(partial),
            mirror,
        ],
        check=True,
    )
    partial.rename(base)
    return base


def prepare_machine(work: Path, base: Path, key: Path) -> Path:
    machine = work / "machine"
    if machine.exists():
        run(["rm", "-rf", "--one-file-system", str(machine)], check=True)
    run(["cp", "-a", str(base), str(machine)], check=True)
    (machine / "etc/hostname").write_text("vault-check\n")
    (machine / "etc/hosts").write_text(
        f"127.0.0.1 localhost\n::1 localhost\n127.0.1.1 vault-check {NAME}\n"
    )
    # Apt inside uses the same sources as this computer (security updates included).
    host_sources = Path("/etc/apt/sources.list.d/debian.sources")
    if host_sources.exists():
        shutil.copy(host_sources, machine / "etc/apt/sources.list.d/debian.sources")
        (machine / "etc/apt/sources.list").unlink(missing_ok=True)
    sshd = machine / "etc/ssh/sshd_config.d/spv-check.conf"
    sshd.write_text(
        f"Port {SSH_PORT}\nListenAddress 127.0.0.1\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
    )
    ssh_dir = machine / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    return machine


def pip_binds() -> tuple[list[str], dict[str, str]]:
    """This computer's Python package mirror, lent read-only to the machine, and the pip
    environment that uses it (the playbook's vault_pip_environment)."""
    binds, env = [], {}
    ca = Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
    if ca.exists():
        binds.append(f"--bind-ro={ca}:/etc/spv-host-ca.crt")
        env["PIP_CERT"] = "/etc/spv-host-ca.crt"
    for folder in ("/opt/wheels", "/opt/pypi", "/opt/pypi-more"):
        if Path(folder).is_dir():
            binds.append(f"--bind-ro={folder}")
    if Path("/opt/wheels").is_dir():
        env["PIP_FIND_LINKS"] = "/opt/wheels"
    extra = [f"file://{f}/simple" for f in ("/opt/pypi", "/opt/pypi-more") if Path(f).is_dir()]
    if extra:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
    cache = Path.home() / ".cache" / "pip"
    if cache.is_dir():
        binds.append(f"--bind={cache}:/var/cache/spv-pip")
        env["PIP_CACHE_DIR"] = "/var/cache/spv-pip"
    env["PIP_DEFAULT_TIMEOUT"] = "180"
    return binds, env


class Machine:
    def __init__(self, directory: Path, key: Path, log: Path, binds: list[str]) -> None:
        self.directory, self.key, self.log_path, self.binds = directory, key, log, binds
        self.process: subprocess.Popen | None = None

    def boot(self) -> None:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                "systemd-nspawn",
                "--directory",
                str(self.directory),
                "--machine=vault-check",
                "--boot",
                # No systemd on this computer to register with or to make a scope.
                "--register=no",
                "--keep-unit",
                "--console=passive",
                *self.binds,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed(f"systemd-nspawn exited; see {self.log_path}")
            if self.ssh(
                "systemctl is-system-running --wait", check=False, timeout=60
            ).returncode in (0, 1):
                return
            time.sleep(1)
        raise CheckFailed(f"the machine did not come up within 180 s; see {self.log_path}")

    def ssh(
        self, command: str, *, check: bool = True, timeout: float = 900, input: str | None = None
    ):
        result = run(
            [
                "ssh",
                "-i",
                str(self.key),
                "-p",
                str(SSH_PORT),
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=5",
                "root@127.0.0.1",
                command,
            ],
            capture_output=True,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise CheckFailed(f"on the machine: {command}\n{result.stdout}{result.stderr}")
        return result

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM asks systemd-nspawn for an orderly power-off of the machine.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# --- a mail sink for the sign-in codes ----------------------------------------------------------


# The vault's code email (vault/accounts/templates/accounts/email/otp_code.txt and the setting
# OTP_EMAIL_SUBJECT); tests/deploy/test_check_mail.py renders the real ones through this reader.
CODE_SUBJECT = "Your Secure Photo Vault code"
CODE_LINE = re.compile(r"code is: (\d{6})\b")


def mailed_code(messages: list[str], address: str) -> str | None:
    """The sign-in code of the newest code email to `address` among raw RFC 5322 `messages`
    (as received over SMTP, CRLF line ends), or None.

    Only the decoded text body of a message whose To is exactly `address` and whose Subject
    is CODE_SUBJECT counts. Scanning raw text for "six digits" read the headers too (a blank
    line there is CRLF CRLF, not LF LF): the Message-ID, <time.PID.random@host>, holds the
    sending web worker's process id, and a six-digit PID was taken for the code. The newest
    wins because a new code replaces the one sent before it.
    """
    for raw in reversed(messages):
        message = email.message_from_string(raw, policy=email.policy.default)
        to = message["To"]
        recipients = {item.addr_spec.lower() for item in to.addresses} if to else set()
        if address.lower() not in recipients or message["Subject"] != CODE_SUBJECT:
            continue
        body = message.get_body(preferencelist=("plain",))
        match = CODE_LINE.search(body.get_content()) if body is not None else None
        if match:
            return match.group(1)
    return None


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        write = self.wfile.write
        write(b"220 spv-check ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ")[0].upper()
            if verb in {"EHLO", "HELO"}:
                write(b"250 spv-check\r\n")
            elif verb == "DATA":
                write(b"354 go on\r\n")
                body = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    # RFC 5321 4.5.2: the sender doubled a leading dot; take it away.
                    body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append(b"".join(body).decode(errors="replace"))
                write(b"250 queued\r\n")
            elif verb == "QUIT":
                write(b"221 bye\r\n")
                return
            else:
                write(b"250 ok\r\n")


class MailSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = SMTP_PORT) -> None:
        # A fixed port keeps vault.env the same from one run to the next.
        super().__init__(("127.0.0.1", port), _SmtpHandler)
        self.messages: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def code_for(self, address: str, after: int, timeout: float = 60) -> str:
        """The code mailed to `address` in a message received after the first `after` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = mailed_code(self.messages[after:], address)
            if code is not None:
                return code
            time.sleep(0.2)
        raise CheckFailed(f"no code was mailed to {address} within {timeout:.0f} s")


# --- the playbook -------------------------------------------------------------------------------


def write_inventory(work: Path, key: Path, smtp_port: int, pip_env: dict[str, str]) -> Path:
    inventory = work / "inventory"
    shutil.rmtree(inventory, ignore_errors=True)
    group_vars = inventory / "group_vars" / "vault"
    group_vars.mkdir(parents=True)
    (inventory / "hosts.yml").write_text(
        json.dumps(
            {
                "vault": {
                    "hosts": {
                        NAME: {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": SSH_PORT,
                            "ansible_user": "root",
                            "ansible_ssh_private_key_file": str(key),
                            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                            "-o UserKnownHostsFile=/dev/null",
                        }
                    }
                }
            },
            indent=2,
        )
    )
    (group_vars / "vars.yml").write_text(
        json.dumps(
            {
                "nginx_server_name": NAME,
                "vault_workers": 1,
                "vault_email_host": "127.0.0.1",
                "vault_email_port": smtp_port,
                "vault_default_from_email": f"Secure Photo Vault <vault@{NAME}>",
                "vault_pip_environment": pip_env,
                "vault_selftest_timeout": 600,
            },
            indent=2,
        )
    )
    # Made once per work directory, so that a --reuse run keeps the machine's secrets.
    password_file, kept = work / "vault-password", work / "secrets.json"
    if not kept.exists():
        password_file.write_text(secrets.token_urlsafe(32))
        password_file.chmod(0o600)
        kept.write_text(
            json.dumps(
                {
                    "vault_secret_key": secrets.token_urlsafe(64),
                    "vault_pepper": secrets.token_urlsafe(48),
                    "vault_smtp_password": "",
                }
            )
        )
        kept.chmod(0o600)
    plain = group_vars / "secrets.yml"
    plain.write_text(kept.read_text())
    run(
        [
            str(BIN / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(password_file),
            str(plain),
        ],
        check=True,
        cwd=ANSIBLE_DIR,
        capture_output=True,
    )
    if not plain.read_text().startswith("$ANSIBLE_VAULT"):
        raise CheckFailed("ansible-vault did not encrypt the secrets")
    return inventory


def playbook(work: Path, inventory: Path, number: int) -> dict[str, int]:
    log = work / f"playbook-{number}.log"
    say(f"ansible-playbook site.yml (log: {log})")
    started = time.monotonic()
    with log.open("w") as out:
        result = run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                str(inventory),
                "--vault-password-file",
                str(work / "vault-password"),
                "site.yml",
            ],
            cwd=ANSIBLE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_FORCE_COLOR": "0"},
        )
    text = log.read_text()
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", text)
    say(
        f"  exit {result.returncode} in {time.monotonic() - started:.0f} s; "
        f"recap: {recap.group(0) if recap else 'none'}"
    )
    if result.returncode != 0 or not recap:
        tail = "\n".join(text.splitlines()[-40:])
        raise CheckFailed(f"the playbook failed:\n{tail}")
    changed = [line for line in text.splitlines() if line.startswith("changed:")]
    return {"ok": int(recap.group(1)), "changed": int(recap.group(2)), "changed_lines": changed}


# --- the vault, used over HTTPS -----------------------------------------------------------------


def https_session(machine: Path):
    import requests
    from requests.adapters import HTTPAdapter

    class NamedHost(HTTPAdapter):
        """Connect to 127.0.0.1 but check the certificate for the vault's name."""

        def init_poolmanager(self, *args, **kwargs):
            kwargs["server_hostname"] = NAME
            kwargs["assert_hostname"] = NAME
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("https://", NamedHost())
    # Not the environment's CA bundle or proxies (REQUESTS_CA_BUNDLE would override verify).
    session.trust_env = False
    session.verify = str(machine / "etc/ssl/vault/fullchain.pem")
    session.headers.update(
        {"Host": NAME, "Origin": f"https://{NAME}", "Referer": f"https://{NAME}/"}
    )
    return session


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise CheckFailed("no CSRF token in the page")
    return match.group(1)


def use_the_vault(box: Machine, sink: MailSink, email: str, password: str) -> tuple[str, bytes]:
    import requests

    base = "https://127.0.0.1"
    plain = requests.get(
        "http://127.0.0.1/photos/", headers={"Host": NAME}, allow_redirects=False, timeout=30
    )
    if plain.status_code != 301 or plain.headers["Location"] != f"https://{NAME}/photos/":
        raise CheckFailed(f"HTTP did not redirect to HTTPS: {plain.status_code} {plain.headers}")
    say(f"  http://{NAME}/photos/ -> 301 {plain.headers['Location']}")

    session = https_session(box.directory)
    login = session.get(f"{base}/accounts/login/", timeout=30)
    if login.status_code != 200 or "Password" not in login.text:
        raise CheckFailed(f"login page: {login.status_code}")
    headers = {
        name: login.headers.get(name)
        for name in ("Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options")
    }
    say(f"  GET https://{NAME}/accounts/login/ -> 200, certificate verified for {NAME}; {headers}")
    if not all(headers.values()):
        raise CheckFailed(f"missing security headers: {headers}")

    sign_in(session, sink, email, password)
    return _upload_and_download(session)


def sign_in(session, sink: MailSink, email: str, password: str) -> None:
    """The two sign-in steps of the login page: the password, then the code sent by mail."""
    base = "https://127.0.0.1"
    login = session.get(f"{base}/accounts/login/", timeout=30)
    prefix = "vault_login_view"
    before = len(sink.messages)
    step_one = session.post(
        f"{base}/accounts/login/",
        data={
            "csrfmiddlewaretoken": csrf_token(login.text),
            f"{prefix}-current_step": "auth",
            "auth-username": email,
            "auth-password": password,
        },
        timeout=60,
    )
    code = sink.code_for(email, before)
    signed_in = session.post(
        f"{base}/accounts/login/",
        data={
            "csrfmiddlewaretoken": csrf_token(step_one.text),
            f"{prefix}-current_step": "token",
            "token-otp_token": code,
        },
        allow_redirects=False,
        timeout=60,
    )
    if signed_in.status_code != 302:
        raise CheckFailed(f"sign-in with the mailed code failed: {signed_in.status_code}")
    say(f"  signed in as {email} (password, then the code mailed through SMTP)")


def _upload_and_download(session) -> tuple[str, bytes]:
    base = "https://127.0.0.1"
    photo = _photo()
    upload_page = session.get(f"{base}/photos/upload", timeout=30)
    uploaded = session.post(
        f"{base}/photos/upload",
        data={"csrfmiddlewaretoken": csrf_token(upload_page.text)},
        files={"photos": ("check.jpg", photo, "image/jpeg")},
        headers={"Accept": "application/json"},
        timeout=120,
    )
    [outcome] = uploaded.json()["files"]
    if outcome.get("status") != "stored":
        raise CheckFailed(f"upload refused: {outcome}")
    photo_id = outcome["photo"]
    say(f"  uploaded a {len(photo)}-byte JPEG -> photo {photo_id}")
    deadline = time.monotonic() + 600
    state = None
    while time.monotonic() < deadline:
        state = session.get(f"{base}/photos/status", params={"id": photo_id}, timeout=30).json()[
            "photos"
        ][photo_id]
        if state["state"] in {"ready", "failed"}:
            break
        time.sleep(1)
    if not state or state["state"] != "ready":
        raise CheckFailed(f"the photo was not processed: {state}")
    say(f"  processed by the worker: {state['state']} ({state.get('label')})")
    original = session.get(f"{base}/photos/{photo_id}/download", timeout=60)
    thumb = session.get(f"{base}/photos/{photo_id}/thumb", timeout=60)
    if original.content != photo or thumb.status_code != 200 or thumb.content[:2] != b"\xff\xd8":
        raise CheckFailed("the original did not come back byte for byte, or no thumbnail")
    say(f"  downloaded the original back byte for byte; thumbnail {len(thumb.content)} bytes")
    return photo_id, photo


def _photo() -> bytes:
    import io

    import skimage
    from PIL import Image

    with Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png") as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=90)
        return out.getvalue()


def vault_manage(
    box: Machine, args: str, *, input: str | None = None, env: dict[str, str] | None = None
) -> str:
    """`manage.py ARGS` on the machine, as the vault's user with its settings and credentials
    (as the services and deploy/restore.sh run); `env` overrides settings of vault.env."""
    unit = f"spv-check-{secrets.token_hex(4)}"
    # systemd lets EnvironmentFile= override --setenv, so overrides go in a later file.
    overrides = f"/run/{unit}.env"
    lines = "".join(f'{name}="{value}"\n' for name, value in (env or {}).items())
    box.ssh(f"umask 077; printf '%s' '{lines}' > {overrides}")
    command = (
        f"systemd-run --quiet --wait --pipe --collect --unit={unit} --uid=vault --gid=vault "
        "-p SupplementaryGroups=redis -p WorkingDirectory=/opt/vault/app "
        f"-p EnvironmentFile=/etc/vault/vault.env -p EnvironmentFile={overrides} "
        "-p LoadCredential=secret_key:/etc/vault/credentials/secret_key "
        "-p LoadCredential=pepper:/etc/vault/credentials/pepper "
        f"--setenv=SECRET_KEY_FILE=/run/credentials/{unit}.service/secret_key "
        f"--setenv=VAULT_PEPPER_FILE=/run/credentials/{unit}.service/pepper "
        f"/opt/vault/venv/bin/python /opt/vault/app/manage.py {args}"
    )
    try:
        return box.ssh(command, input=input).stdout
    finally:
        box.ssh(f"rm -f {overrides}", check=False)


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work",
        type=Path,
        # Not /tmp: the machine is kept between runs (--reuse) and /tmp may be cleaned.
        default=Path(os.environ.get("SPV_DEPLOY_CHECK_DIR", "/var/tmp/spv-deploy")),  # noqa: S108
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="boot the machine left by the last run instead of a fresh copy (while fixing)",
    )
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, str]] = []
    box = None
    try:
        step("tools and the Debian 12 root file system")
        ensure_tools()
        base = ensure_base(work)
        commit = run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True
        ).stdout.strip()
        dirty = run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
        ).stdout.strip()
        say(
            f"deploying commit {commit}"
            + (" (uncommitted changes are NOT deployed)" if dirty else "")
        )
        key = work / "id_ed25519"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        if args.reuse and (work / "machine").is_dir():
            machine_dir = work / "machine"
            say(f"reusing {machine_dir} (NOT a fresh box)")
        else:
            machine_dir = prepare_machine(work, base, key)
        binds, pip_env = pip_binds()

        step("boot the machine with systemd-nspawn")
        box = Machine(machine_dir, key, work / "console.log", binds)
        box.boot()
        release = box.ssh("cat /etc/debian_version; systemctl --version | head -1").stdout.split()
        say(f"booted: Debian {release[0]}, {' '.join(release[1:3])}; SSH on 127.0.0.1:{SSH_PORT}")
        results.append(("debootstrap + systemd-nspawn boot", "ran"))

        sink = MailSink()
        inventory = write_inventory(work, key, sink.server_address[1], pip_env)

        step("first run of the playbook (a fresh Debian 12 box)")
        first = playbook(work, inventory, 1)
        results.append(
            ("ansible-playbook, first run", f"ok={first['ok']} changed={first['changed']}")
        )

        step("second run of the playbook (must change nothing)")
        second = playbook(work, inventory, 2)
        for line in second["changed_lines"]:
            say(f"  CHANGED: {line}")
        results.append(("ansible-playbook, second run", f"changed={second['changed']}"))
        if second["changed"]:
            raise CheckFailed(f"the second run changed {second['changed']} task(s)")

        step("use the vault over HTTPS")
        # New names every run, so that a --reuse run does not meet the last run's account.
        run_id = secrets.token_hex(3)
        email, password = f"olive-{run_id}@example.org", "a long passphrase for the check 42"
        vault_manage(
            box,
            'shell -c "import sys; from vault.accounts.services import account_create; '
            f"account_create(name='Olive', email='{email}', "
            'password=sys.stdin.read(), email_verified=True)"',
            input=password,
        )
        say(f"  created the account {email} (manage.py shell, as the vault's user)")
        photo_id, photo = use_the_vault(box, sink, email, password)
        results.append(
            ("HTTPS: redirect, login page, sign-in, upload, processing, download", "ran")
        )

        step("backup by the systemd unit, /healthz")
        box.ssh("systemctl start vault-backup.service")
        say(
            "  "
            + box.ssh(
                "journalctl -u vault-backup.service -o cat --no-pager "
                "| grep -E '^ok:|backup' | tail -2"
            ).stdout.strip()
        )
        health = https_session(box.directory).get("https://127.0.0.1/healthz", timeout=30).json()
        say(f"  /healthz: ok={health['ok']} backup={health['backup']}")
        if not health["backup"]["ok"] or health["backup"]["age_s"] > 300:
            raise CheckFailed(f"/healthz does not show a fresh backup: {health['backup']}")
        results.append(("vault-backup.service + /healthz backup age", "ran"))

        step("restore into a new database and data directory, then decrypt every chunk")
        snapshot = box.ssh("ls -d /var/lib/vault/backups/2* | tail -1").stdout.strip()
        restored = box.ssh(
            f"/opt/vault/app/deploy/restore.sh {snapshot} --database vault_restore_{run_id} "
            f"--data-dir /var/lib/vault/restore-{run_id}"
        ).stdout
        say("  " + restored.strip().replace("\n", "\n  "))
        checked = vault_manage(
            box,
            f"vault_check --user {email} --password-stdin --chunks",
            input=password + "\n",
            env={
                "DATABASE_URL": f"postgresql://vault@/vault_restore_{run_id}"
                "?host=/var/run/postgresql",
                "VAULT_DATA_DIR": f"/var/lib/vault/restore-{run_id}",
            },
        )
        say(f"  restored copy, with the user's password: {checked.strip()}")
        if "authenticated" not in checked:
            raise CheckFailed("vault_check did not authenticate the restored blobs")
        results.append(("deploy/restore.sh + vault_check --chunks of the restored copy", "ran"))

        step(
            "inside the machine: sockets, the queue's permissions, unit security, a worker restart"
        )
        listening = box.ssh("ss -Hltnp | grep -E 'postgres|redis' || true").stdout.strip()
        say(f"  PostgreSQL or redis on TCP: {listening or 'none'}")
        if listening:
            raise CheckFailed("PostgreSQL or redis listens on TCP")
        refused = (
            box.ssh(
                "apt-get install -y -qq redis-tools >/dev/null 2>&1; "
                "runuser -u www-data -- redis-cli -s /run/redis/redis-server.sock ping 2>&1; "
                "runuser -u vault -- redis-cli -s /run/redis/redis-server.sock ping 2>&1",
                check=False,
            )
            .stdout.strip()
            .splitlines()
        )
        say(
            f"  redis-cli ping as www-data: {refused[0] if refused else '?'}; "
            f"as vault: {refused[-1] if refused else '?'}"
        )
        if len(refused) < 2 or "PONG" in refused[0] or refused[-1] != "PONG":
            raise CheckFailed("the queue's socket is not limited to the vault's user")
        for unit in ("vault-web.service", "vault-worker@1.service", "vault-backup.service"):
            score = box.ssh(f"systemd-analyze security {unit} --no-pager | tail -1").stdout.strip()
            say(f"  {score}")
        box.ssh("systemctl restart vault-worker@1.service")
        stopped = box.ssh(
            "journalctl -u vault-worker@1.service -o cat --no-pager "
            "| grep -E 'warm shut down|stopping on request|Stopped' | tail -3"
        ).stdout.strip()
        say("  worker restart: " + stopped.replace("\n", " | "))
        vault_manage(box, "vault_selftest --timeout 600")
        say("  a fresh worker answered the queue self-test")
        results.append(
            ("inside: sockets, redis permissions, systemd-analyze security, worker restart", "ran")
        )
        step("disaster: the database and the blobs lost; the play again, then restore.sh in place")
        box.ssh(
            "systemctl stop vault.target vault-web.socket vault-web.service "
            "'vault-worker@*.service' vault-backup.timer; "
            "runuser -u postgres -- dropdb vault; rm -rf /var/lib/vault/data"
        )
        say("  stopped the vault, dropped its database, removed /var/lib/vault/data")
        third = playbook(work, inventory, 3)
        results.append(("ansible-playbook on the emptied box", f"changed={third['changed']}"))
        restored = box.ssh(f"/opt/vault/app/deploy/restore.sh {snapshot}").stdout
        say("  " + restored.strip().replace("\n", "\n  "))
        session = https_session(box.directory)
        sign_in(session, sink, email, password)
        again = session.get(f"https://127.0.0.1/photos/{photo_id}/download", timeout=60)
        if again.content != photo:
            raise CheckFailed("after the restore, the original did not come back byte for byte")
        say(f"  after the restore: signed in again, photo {photo_id} downloaded byte for byte")
        results.append(("restore.sh in place + sign-in + download after it", "ran"))
    except CheckFailed as failure:
        say(f"\nFAILED: {failure}")
        results.append(("(stopped here)", "FAILED"))
        _summary(results)
        return 1
    finally:
        if box is not None:
            with contextlib.suppress(Exception):
                box.stop()
    _summary(results)
    return 0


def _summary(results: list[tuple[str, str]]) -> None:
    say("\n=== summary")
    for what, outcome in results:
        say(f"  {what:80} {outcome}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
