"""Settings for a worker on another host: DATABASE_URL with libpq's TLS parameters, and
REDIS_URL for a Valkey ACL user with its password and CA from their own settings."""

from __future__ import annotations

import pytest
import redis.connection
from django.core.exceptions import ImproperlyConfigured

from vault.env import PG_KEEPALIVES, database_from_url, redis_url_with


def test_database_url_carries_tls_parameters_to_psycopg():
    database = database_from_url(
        "postgresql://vault@db.lan:5432/vault?sslmode=verify-full&sslrootcert=/etc/vault/tls/ca.pem"
    )
    assert database["HOST"] == "db.lan" and database["PORT"] == "5432"
    assert database["PASSWORD"] == ""  # from DB_PASSWORD_FILE, not the URL
    assert database["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/vault/tls/ca.pem",
        **PG_KEEPALIVES,
    }
    assert "OPTIONS" not in database_from_url("postgresql://vault@/vault?host=/run/postgresql")


def test_a_tcp_database_connection_gives_up_on_a_vanished_host_within_minutes():
    """libpq keepalives on every TCP connection (the worker's side of a dead database host):
    idle + interval × count of at most a few minutes, in names libpq accepts."""
    import psycopg.conninfo

    options = database_from_url("postgresql://vault@10.0.0.11:5432/vault")["OPTIONS"]
    assert options["keepalives"] == "1"
    seconds = int(options["keepalives_idle"]) + int(options["keepalives_interval"]) * int(
        options["keepalives_count"]
    )
    assert 30 <= seconds <= 5 * 60
    parsed = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo("", **options))
    assert parsed == options
    # The URL may set its own; a value that is not a number is refused.
    own = database_from_url("postgresql://vault@db.lan/vault?keepalives_idle=30")["OPTIONS"]
    assert own["keepalives_idle"] == "30" and own["keepalives_count"] == "6"
    with pytest.raises(ImproperlyConfigured, match="keepalives_count"):
        database_from_url("postgresql://vault@db.lan/vault?keepalives_count=many")


def test_database_url_refuses_an_unknown_sslmode():
    with pytest.raises(ImproperlyConfigured, match="sslmode"):
        database_from_url("postgresql://vault@db.lan/vault?sslmode=verify-everything")


def test_redis_url_gets_the_acl_users_password_and_the_ca():
    url = redis_url_with(
        "rediss://worker@queue.lan:6380/0", password="p@ss/word", ca_file="/etc/vault/tls/ca.pem"
    )
    parsed = redis.connection.parse_url(url)
    assert parsed["username"] == "worker" and parsed["password"] == "p@ss/word"
    assert parsed["host"] == "queue.lan" and parsed["port"] == 6380
    assert parsed["ssl_ca_certs"] == "/etc/vault/tls/ca.pem"
    assert parsed["connection_class"] is redis.connection.SSLConnection


def test_redis_url_on_a_unix_socket_takes_a_password_and_stays_a_unix_url():
    plain = "unix:///run/redis/redis-server.sock?db=0"
    assert redis_url_with(plain, password=None, ca_file=None) == plain
    parsed = redis.connection.parse_url(
        redis_url_with("unix://web@/run/redis/redis-server.sock?db=0", password="pw", ca_file=None)
    )
    assert parsed["path"] == "/run/redis/redis-server.sock"
    assert (parsed["username"], parsed["password"]) == ("web", "pw")


def test_redis_ca_without_tls_or_two_passwords_is_refused():
    with pytest.raises(ImproperlyConfigured, match="rediss://"):
        redis_url_with("redis://queue.lan:6379/0", password=None, ca_file="/ca.pem")
    with pytest.raises(ImproperlyConfigured, match="REDIS_PASSWORD"):
        redis_url_with("rediss://worker:one@queue.lan:6380/0", password="two", ca_file=None)
