"""deploy/ansible as Ansible reads it: `ansible-playbook --syntax-check`, `ansible-lint` with the
production profile, and the files the roles render (vault.env, the nginx site) checked for
what the vault depends on: settings it reads, secrets only as credentials, uploads and
decrypted downloads never spooled to nginx's disk."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vaultdev.pytest_plugin import ROOT

ANSIBLE_DIR = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOK = BIN / "ansible-playbook"
LINT = BIN / "ansible-lint"

pytestmark = pytest.mark.skipif(
    not PLAYBOOK.exists(),
    reason="ansible-core is missing from the venv (make test installs requirements/dev.txt)",
)


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(kwargs.pop("tmp")),
        ANSIBLE_HOME=str(kwargs.pop("home")),
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        NO_COLOR="1",
    )
    return subprocess.run(
        command, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


def test_playbook_syntax_check(tmp_path):
    result = _run(
        [str(PLAYBOOK), "--syntax-check", "site.yml"], tmp=tmp_path, home=tmp_path / "home"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not LINT.exists(), reason="ansible-lint is missing from the venv")
def test_ansible_lint_production_profile(tmp_path):
    result = _run(
        [str(LINT), "--profile", "production", "--offline", "--nocolor"],
        tmp=tmp_path,
        home=tmp_path / "home",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output


RENDER = """
- name: Render the vault's templates
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Load the role defaults and vars
      ansible.builtin.include_vars: "{{ item }}"
      loop:
        - roles/postgres/defaults/main.yml
        - roles/redis/defaults/main.yml
        - roles/vault/defaults/main.yml
        - roles/vault/vars/main.yml
        - roles/nginx/defaults/main.yml
    - name: Render
      ansible.builtin.template:
        src: "{{ item.src }}"
        dest: "{{ out }}/{{ item.dest }}"
        mode: "0600"
      loop:
        - { src: roles/vault/templates/vault.env.j2, dest: vault.env }
        - { src: roles/nginx/templates/vault.conf.j2, dest: nginx.conf }
        - { src: roles/postgres/templates/pg_hba.conf.j2, dest: pg_hba.conf }
        - { src: roles/redis/templates/redis-vault.conf.j2, dest: redis.conf }
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("render")
    playbook = ANSIBLE_DIR / f".render-{os.getpid()}.yml"
    playbook.write_text(RENDER)
    try:
        result = _run(
            [
                str(PLAYBOOK),
                "-i",
                "localhost,",
                # Extra vars: they win over the role files include_vars loads, as inventory
                # variables win over role defaults in a real run.
                "-e",
                json.dumps(
                    {
                        "out": str(work),
                        "ansible_python_interpreter": sys.executable,
                        "nginx_server_name": "photos.example.org",
                        "vault_max_upload_bytes": 52428800,
                        "vault_ml_threads": 1,
                        "vault_secret_key": "k" * 60,
                        "vault_pepper": "p" * 40,
                    }
                ),
                playbook.name,
            ],
            tmp=work / "tmp",
            home=work / "home",
        )
    finally:
        playbook.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    return work


def _environment_file(path: Path) -> dict[str, str]:
    """Read an EnvironmentFile the way systemd does for our (double-quoted) lines."""
    found = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.split("=", 1)
        assert value.startswith('"') and value.endswith('"'), line
        found[name] = re.sub(r"\\(.)", r"\1", value[1:-1])
    return found


def test_vault_env_holds_settings_the_vault_reads_and_no_secret(rendered):
    env = _environment_file(rendered / "vault.env")
    settings_source = (ROOT / "vault" / "settings.py").read_text()
    for name in env:
        if name in {"GUNICORN_CMD_ARGS", "PYTHONDONTWRITEBYTECODE"}:
            continue
        assert f'"{name}"' in settings_source, (
            f"vault.env sets {name}, which settings.py never reads"
        )
    assert env["DATABASE_URL"] == "postgresql://vault@/vault?host=/var/run/postgresql"
    assert env["REDIS_URL"] == "unix:///run/redis/redis-server.sock?db=0"
    assert env["VAULT_HTTPS"] == "true" and env["ALLOWED_HOSTS"] == "photos.example.org"
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://photos.example.org"
    assert env["VAULT_ML_THREADS"] == "1"
    text = (rendered / "vault.env").read_text()
    assert "k" * 50 not in text and "p" * 32 not in text
    assert not {"SECRET_KEY", "VAULT_PEPPER_FILE", "EMAIL_HOST_PASSWORD"} & set(env)


def test_the_units_receive_exactly_the_credentials_the_role_writes():
    role_vars = (ANSIBLE_DIR / "roles/vault/vars/main.yml").read_text()
    written = set(re.findall(r"\{ name: (\w+), value:", role_vars))
    loaded = {}
    for unit in (ROOT / "systemd").glob("*.service"):
        loaded[unit.name] = set(
            re.findall(r"^LoadCredential=(\w+):/etc/vault/credentials/\1$", unit.read_text(), re.M)
        )
    assert written == set().union(*loaded.values())
    assert written == {
        "secret_key",
        "pepper",
        "smtp_password",
        "enrolment_secret",
        "db_password",
        "redis_password",
        "s3_secret_key",
    }
    # A worker holds the enrolment secret and the passwords it needs on another host, never
    # the pepper or the mail password.
    assert loaded["vault-worker@.service"] == written - {"pepper", "smtp_password"}


def test_nginx_streams_uploads_and_downloads_past_its_disk(rendered):
    conf = (rendered / "nginx.conf").read_text()
    assert "proxy_request_buffering off;" in conf
    assert "proxy_max_temp_file_size 0;" in conf
    assert f"client_max_body_size {52428800 + 1048576};" in conf
    assert "return 301 https://photos.example.org$request_uri;" in conf
    assert "proxy_pass http://unix:/run/vault-web.sock;" in conf
    assert re.search(r"location = /healthz \{\s+allow 127\.0\.0\.1;\s+allow ::1;\s+deny all;", conf)
    assert "proxy_set_header X-Real-IP $remote_addr;" in conf
    # The socket nginx proxies to is the one systemd makes for it.
    assert "ListenStream=/run/vault-web.sock" in (ROOT / "systemd/vault-web.socket").read_text()


def test_postgres_and_redis_listen_on_sockets_only(rendered):
    hba = [
        line.split()
        for line in (rendered / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert hba == [["local", "all", "postgres", "peer"], ["local", "all", "vault", "peer"]]
    redis = (rendered / "redis.conf").read_text()
    assert "\nport 0\n" in redis and "unixsocketperm 770" in redis
    assert "appendonly yes" in redis and "maxmemory-policy noeviction" in redis


# --- Several hosts (README "Workers on other hosts") ----------------------------------------

MULTIHOST_INVENTORY = """
vault:
  vars:
    ansible_connection: local
  children:
    vault_web:
      hosts:
        web.lan: {vault_private_address: 10.0.0.10}
    vault_database:
      hosts:
        db.lan: {vault_private_address: 10.0.0.11}
    vault_queue:
      hosts:
        db.lan:
    vault_workers:
      hosts:
        gpu.lan: {vault_private_address: 10.0.0.20}
    seaweedfs_master:
      hosts:
        store1.lan: {vault_private_address: 10.0.0.31}
    seaweedfs_volume:
      hosts:
        store1.lan:
        store2.lan: {vault_private_address: 10.0.0.32}
    seaweedfs_filer:
      hosts:
        store1.lan:
"""

RENDER_MULTIHOST = """
- name: Render every host's files
  hosts: all
  gather_facts: false
  tasks:
    - name: Load the role defaults and vars
      ansible.builtin.include_vars: "{{ item }}"
      loop:
        - roles/postgres/defaults/main.yml
        - roles/redis/defaults/main.yml
        - roles/seaweedfs/defaults/main.yml
        - roles/seaweedfs/vars/main.yml
        - roles/vault/defaults/main.yml
        - roles/vault/vars/main.yml
        - roles/nginx/defaults/main.yml
    - name: Make the host's directory
      ansible.builtin.file:
        path: "{{ out }}/{{ inventory_hostname }}"
        state: directory
        mode: "0700"
    - name: Render the vault's settings and the network drop-in
      ansible.builtin.template:
        src: "{{ item.src }}"
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item.dest }}"
        mode: "0600"
      loop:
        - { src: roles/vault/templates/vault.env.j2, dest: vault.env }
        - { src: roles/vault/templates/network.conf.j2, dest: network.conf }
      when: inventory_hostname in groups['vault_web'] + groups['vault_workers']
    - name: Write the credentials the vault role would write
      ansible.builtin.copy:
        content: >-
          {{ vault_credentials | items2dict(key_name='name', value_name='value') | to_json }}
        dest: "{{ out }}/{{ inventory_hostname }}/credentials.json"
        mode: "0600"
      when: inventory_hostname in groups['vault_web'] + groups['vault_workers']
    - name: Render the database's files
      ansible.builtin.template:
        src: "roles/postgres/templates/{{ item }}.j2"
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item }}"
        mode: "0600"
      loop: [pg_hba.conf, vault.conf]
      when: inventory_hostname in groups['vault_database']
    - name: Render the queue's files
      ansible.builtin.template:
        src: "roles/redis/templates/{{ item }}.j2"
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item }}"
        mode: "0600"
      loop: [redis-vault.conf, users.acl]
      when: inventory_hostname in groups['vault_queue']
    - name: Render SeaweedFS's units
      ansible.builtin.template:
        src: roles/seaweedfs/templates/seaweedfs.service.j2
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item }}"
        mode: "0600"
      loop: "{{ seaweedfs_units }}"
      when: seaweedfs_units | length > 0
    - name: Render the S3 identities
      ansible.builtin.template:
        src: roles/seaweedfs/templates/s3.json.j2
        dest: "{{ out }}/{{ inventory_hostname }}/s3.json"
        mode: "0600"
      when: inventory_hostname in groups['seaweedfs_filer']
"""

MULTIHOST_SECRETS = {
    "vault_secret_key": "k" * 60,
    "vault_pepper": "p" * 40,
    "vault_worker_enrolment_secret": "e" * 40,
    "vault_db_password": "d" * 40,
    "vault_redis_web_password": "w" * 40,
    "vault_redis_worker_password": "r" * 40,
    "vault_s3_secret_key": "s" * 40,
}


@pytest.fixture(scope="module")
def multihost(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("multihost")
    inventory = work / "hosts.yml"
    inventory.write_text(MULTIHOST_INVENTORY)
    playbook = ANSIBLE_DIR / f".render-multihost-{os.getpid()}.yml"
    playbook.write_text(RENDER_MULTIHOST)
    try:
        result = _run(
            [
                str(PLAYBOOK),
                "-i",
                str(inventory),
                "-e",
                json.dumps(
                    {
                        "out": str(work),
                        "ansible_python_interpreter": sys.executable,
                        "nginx_server_name": "photos.example.org",
                        "inventory_dir": str(work),
                        **MULTIHOST_SECRETS,
                    }
                ),
                playbook.name,
            ],
            tmp=work / "tmp",
            home=work / "home",
        )
    finally:
        playbook.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    return work


def test_multihost_web_and_worker_reach_database_and_queue_over_tls(multihost):
    web = _environment_file(multihost / "web.lan" / "vault.env")
    worker = _environment_file(multihost / "gpu.lan" / "vault.env")
    ca = "/etc/vault/tls/ca.pem"
    for env in (web, worker):
        assert env["DATABASE_URL"] == (
            f"postgresql://vault@10.0.0.11:5432/vault?sslmode=verify-full&sslrootcert={ca}"
        )
        assert env["VAULT_BLOB_STORE"] == "s3"
        assert env["VAULT_S3_ENDPOINT"] == "https://10.0.0.31:8333"
        assert env["VAULT_S3_CA_FILE"] == ca and env["VAULT_S3_BUCKET"] == "vault"
    # Each host signs in to the queue as its own ACL user; passwords are credentials only.
    assert web["REDIS_URL"] == "rediss://web@10.0.0.11:6380/0"
    assert worker["REDIS_URL"] == "rediss://worker@10.0.0.11:6380/0"
    assert worker["VAULT_WORKER_HOST"] == "gpu.lan"
    for host in ("web.lan", "gpu.lan"):
        text = (multihost / host / "vault.env").read_text()
        assert not any(secret[:32] in text for secret in MULTIHOST_SECRETS.values())
    web_credentials = json.loads((multihost / "web.lan" / "credentials.json").read_text())
    worker_credentials = json.loads((multihost / "gpu.lan" / "credentials.json").read_text())
    assert web_credentials["redis_password"] == "w" * 40
    assert worker_credentials["redis_password"] == "r" * 40
    assert worker_credentials["enrolment_secret"] == web_credentials["enrolment_secret"]
    # A worker-only host gets neither the pepper, the mail password nor the web's secret key.
    assert worker_credentials["pepper"] == worker_credentials["smtp_password"] == ""
    assert worker_credentials["secret_key"] not in {"", "k" * 60}


def test_multihost_workers_may_reach_only_the_vaults_hosts(multihost):
    dropin = (multihost / "gpu.lan" / "network.conf").read_text()
    assert "PrivateNetwork=no" in dropin and "IPAddressDeny=any" in dropin
    assert "IPAddressAllow=10.0.0.11 10.0.0.31\n" in dropin
    assert "SupplementaryGroups=\n" in dropin  # no redis group on a host without the queue


def test_multihost_database_takes_tls_and_scram_from_the_vaults_hosts_only(multihost):
    hba = [
        line.split()
        for line in (multihost / "db.lan" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert hba == [
        ["local", "all", "postgres", "peer"],
        ["local", "all", "vault", "peer"],
        ["hostssl", "vault", "vault", "10.0.0.20/32", "scram-sha-256"],  # gpu.lan
        ["hostssl", "vault", "vault", "10.0.0.10/32", "scram-sha-256"],  # web.lan
    ]
    conf = (multihost / "db.lan" / "vault.conf").read_text()
    assert "listen_addresses = '10.0.0.11'" in conf and "ssl = on" in conf
    assert "password_encryption = 'scram-sha-256'" in conf
    # A worker host that vanishes loses its session and advisory locks within minutes.
    keepalives = {
        key: int(value)
        for key, value in re.findall(r"^tcp_keepalives_(\w+) = (\d+)$", conf, re.MULTILINE)
    }
    assert keepalives == {"idle": 60, "interval": 10, "count": 6}
    assert keepalives["idle"] + keepalives["interval"] * keepalives["count"] <= 5 * 60
    # And the web and workers reach it with libpq keepalives (the client's side).
    from vault.env import database_from_url

    for host in ("web.lan", "gpu.lan"):
        url = _environment_file(multihost / host / "vault.env")["DATABASE_URL"]
        options = database_from_url(url)["OPTIONS"]
        assert options["keepalives"] == "1" and int(options["keepalives_idle"]) <= 60


def test_multihost_queue_has_tls_and_acl_users_with_hashed_passwords(multihost):
    import hashlib

    from vaultdev.networked import valkey_acl_rules

    conf = (multihost / "db.lan" / "redis-vault.conf").read_text()
    assert "\nport 0\n" in conf and "tls-port 6380" in conf
    assert "bind 10.0.0.11 127.0.0.1 -::1" in conf and "aclfile /etc/redis/users.acl" in conf
    acl = (multihost / "db.lan" / "users.acl").read_text().splitlines()
    users = {line.split()[1]: line for line in acl if line.startswith("user ")}
    assert users["default"] == "user default off resetkeys -@all"
    for user, password in (("web", "w" * 40), ("worker", "r" * 40)):
        digest = hashlib.sha256(password.encode()).hexdigest()
        # The rules tests/hosts proves with a real worker are the rules deployed.
        assert users[user] == f"user {user} on #{digest} {valkey_acl_rules()[user]}"
    assert "w" * 40 not in "\n".join(acl) and "r" * 40 not in "\n".join(acl)


def test_multihost_seaweedfs_replicates_every_volume_on_two_servers(multihost):
    master = (multihost / "store1.lan" / "seaweedfs-master.service").read_text()
    assert "-defaultReplication=001" in master and "-ip.bind=10.0.0.31" in master
    assert "-peers=10.0.0.31:9333" in master
    volume = (multihost / "store2.lan" / "seaweedfs-volume.service").read_text()
    assert "-master=10.0.0.31:9333" in volume and "-ip.bind=10.0.0.32" in volume
    assert not (multihost / "store2.lan" / "seaweedfs-master.service").exists()
    filer = (multihost / "store1.lan" / "seaweedfs-filer.service").read_text()
    assert "-s3 -s3.port=8333 -s3.config=%d/s3.json" in filer
    assert "-s3.cert.file=%d/s3.pem" in filer
    assert "LoadCredential=s3.json:/etc/seaweedfs/credentials/s3.json" in filer
    for unit in (master, volume, filer):
        for hardening in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes"):
            assert f"\n{hardening}\n" in unit
    [identity] = json.loads((multihost / "store1.lan" / "s3.json").read_text())["identities"]
    assert identity["credentials"] == [{"accessKey": "vault", "secretKey": "s" * 40}]
    assert sorted(identity["actions"]) == sorted(
        f"{action}:vault" for action in ("Read", "Write", "List", "Tagging", "Admin")
    )


def _unit_root(tmp_path: Path, units: dict[str, str]) -> Path:
    """A root for `systemd-analyze --root`: the host's units, plus `units` (path under
    etc/systemd/system -> text) with a stub for each command they run."""
    import shutil

    root = tmp_path / "sdroot"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for relative, text in units.items():
        path = root / "etc/systemd/system" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for command in re.findall(r"^Exec\w+=[-@:+!]*(/\S+)", text, flags=re.MULTILINE):
            stub = root / command.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    return root


def _analyze(*args: str) -> str:
    import shutil

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    result = subprocess.run([analyze, *args], capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def _exposure_is_ok(root: Path, unit: str) -> None:
    output = _analyze("security", "--offline=yes", f"--root={root}", "--no-pager", unit)
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", output)
    assert match and match.group(2) in {"SAFE", "OK"}, output


@pytest.mark.parametrize(
    ("host", "unit"),
    [
        ("store1.lan", "seaweedfs-master.service"),
        ("store2.lan", "seaweedfs-volume.service"),
        ("store1.lan", "seaweedfs-filer.service"),
    ],
)
def test_multihost_seaweedfs_units_verify_and_are_hardened(multihost, tmp_path, host, unit):
    root = _unit_root(tmp_path, {unit: (multihost / host / unit).read_text()})
    assert not _analyze("verify", f"--root={root}", unit).strip()
    _exposure_is_ok(root, unit)  # 1.3 OK on this machine


def test_multihost_worker_unit_with_its_network_dropin_stays_hardened(multihost, tmp_path):
    """On a worker host the drop-in opens the network to the vault's hosts only; the unit
    keeps its rating."""
    unit = "vault-worker@.service"
    root = _unit_root(
        tmp_path,
        {
            unit: (ROOT / "systemd" / unit).read_text(),
            f"{unit}.d/network.conf": (multihost / "gpu.lan" / "network.conf").read_text(),
        },
    )
    assert not _analyze("verify", f"--root={root}", "vault-worker@1.service").strip()
    _exposure_is_ok(root, "vault-worker@1.service")  # 1.2 OK on this machine
