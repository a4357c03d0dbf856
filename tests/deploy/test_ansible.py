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
    tasks = (ANSIBLE_DIR / "roles/vault/tasks/main.yml").read_text()
    written = set(re.findall(r"\{ name: (\w+), value:", tasks))
    loaded = set()
    for unit in (ROOT / "systemd").glob("*.service"):
        loaded |= set(
            re.findall(r"^LoadCredential=(\w+):/etc/vault/credentials/\1$", unit.read_text(), re.M)
        )
    assert written == loaded == {"secret_key", "pepper", "smtp_password"}


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
