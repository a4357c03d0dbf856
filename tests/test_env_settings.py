"""The typed environment helpers fail loudly on values they cannot use."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from vault.env import database_from_url, env_bool, env_int, env_list, env_secret, redis_url


def test_bool_accepts_the_usual_spellings(monkeypatch):
    for raw, expected in [("true", True), ("1", True), ("Off", False), ("no", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG") is expected


def test_bool_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_int_rejects_text_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="integer"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env_int("X_NUM", 10, minimum=5)


def test_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("X_HOSTS", "vault.example, 10.0.0.2 ,")
    assert env_list("X_HOSTS", []) == ["vault.example", "10.0.0.2"]


def test_secret_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_secret("X_SECRET") == "s3cret"


def test_secret_refuses_both_forms_and_unreadable_files(monkeypatch, tmp_path):
    monkeypatch.setenv("X_SECRET", "a")
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "key"))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("X_SECRET")
    monkeypatch.delenv("X_SECRET")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("X_SECRET")


def test_database_url_with_socket_directory():
    db = database_from_url("postgresql://vault:pw%40x@/photos?host=/run/postgresql")
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"]) == (
        "photos",
        "vault",
        "pw@x",
        "/run/postgresql",
    )


def test_database_url_must_be_postgres_and_name_a_database():
    with pytest.raises(ImproperlyConfigured, match="postgresql"):
        database_from_url("mysql://u@h/db")
    with pytest.raises(ImproperlyConfigured, match="no database"):
        database_from_url("postgresql://u@h/")


def test_redis_url_scheme_is_checked(monkeypatch):
    monkeypatch.setenv("X_REDIS", "unix:///var/run/valkey.sock?db=0")
    assert redis_url("X_REDIS", None).startswith("unix://")
    monkeypatch.setenv("X_REDIS", "http://localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="redis"):
        redis_url("X_REDIS", None)


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "VAULT_DEV_DEFAULTS"}}
    # Debug alone is no reason to make up a key: only make run's VAULT_DEV_DEFAULTS is.
    env.update(DEBUG="true", VAULT_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import vault.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY or SECRET_KEY_FILE" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_development_secret_key_is_generated_once_and_reused(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(VAULT_DEV_DEFAULTS="true", VAULT_VAR_DIR=str(tmp_path))
    code = "from vault import settings; print(settings.SECRET_KEY)"
    first, second = (
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    )
    assert first == second and len(first.strip()) > 40
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
