"""Fixtures of the upgrade tests: a fresh database in the test cluster, and this process pointed
at it for the rest of a test."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from django.db import connection
from psycopg import sql


@pytest.fixture
def fresh_database(vault_services):
    """The URL of a new, empty database in the test cluster; dropped after the test."""
    name = f"spv_upgrade_{secrets.token_hex(4)}"
    with psycopg.connect(vault_services.database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield vault_services.database_url(name)
    connection.close()
    with psycopg.connect(vault_services.database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def use_database():
    """Point this process's default connection at another database, then back."""
    saved = dict(connection.settings_dict)

    def switch(url: str) -> None:
        from vault.env import database_from_url

        connection.close()
        connection.settings_dict.update(database_from_url(url))

    yield switch
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)
