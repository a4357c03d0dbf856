"""Typed readers for the environment variables that configure the vault.

Each helper fails loudly (ImproperlyConfigured) on a value it cannot parse, so a typo in a
unit file stops the service at start-up instead of silently falling back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of {sorted(_TRUE | _FALSE)}, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def env_secret(name: str) -> str | None:
    """Read a secret from NAME or from the file named by NAME_FILE (systemd credentials)."""
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if value and path:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    return value


# libpq's TLS parameters a DATABASE_URL may carry (PostgreSQL docs, "Connection Strings":
# sslmode, sslrootcert, sslcert, sslkey, sslnegotiation): passed to psycopg as OPTIONS.
_PG_TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslnegotiation")
_PG_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# libpq's TCP keepalives (seconds, probes): a connection to a database host that vanished
# (power cut, cable pulled) fails after about idle + interval × count = 2 minutes instead of
# Linux's default of more than 2 hours. The server side sets the same (Ansible postgres role)
# so that a vanished worker host's session and advisory locks go too. docs/multihost.md.
PG_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "60",
    "keepalives_interval": "10",
    "keepalives_count": "6",
}


def database_from_url(url: str) -> dict:
    """Turn postgresql://user:password@host:port/name?host=/socket/dir into DATABASES['default'].

    Over TCP to another host, add libpq's TLS parameters, e.g.
    `?sslmode=verify-full&sslrootcert=/etc/vault/ca.pem` (they become OPTIONS); TCP
    connections also get libpq's keepalives (PG_KEEPALIVES, or keepalives_* in the URL). Raises
    ImproperlyConfigured on another scheme, no database name, a bad port or sslmode."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgresql:// URL, not {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL has a port that is not a number") from None
    options = {key: query[key][0] for key in _PG_TLS_PARAMETERS if key in query}
    if host and not host.startswith("/"):  # TCP: keepalives, unless the URL sets its own
        for key, default in PG_KEEPALIVES.items():
            value = query.get(key, [default])[0]
            if not value.isdigit():
                raise ImproperlyConfigured(f"DATABASE_URL {key} must be a whole number")
            options[key] = value
    if options.get("sslmode", "disable") not in _PG_SSLMODES:
        raise ImproperlyConfigured(
            f"DATABASE_URL sslmode must be one of {sorted(_PG_SSLMODES)}, "
            f"not {options['sslmode']!r}"
        )
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
    }
    if options:
        database["OPTIONS"] = options
    return database


def redis_url(name: str, default: str | None) -> str | None:
    raw = os.environ.get(name, default)
    if raw is None:
        return None
    if urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"{name} must be a redis://, rediss:// or unix:// URL, not {raw!r}"
        )
    return raw


def redis_url_with(url: str, *, password: str | None, ca_file: str | None) -> str:
    """`url` with a password (REDIS_PASSWORD[_FILE], for a Valkey ACL user named in the URL,
    e.g. rediss://worker@queue.lan:6380/0) and a CA file for TLS (redis-py's `ssl_ca_certs`
    URL parameter) added: django-rq hands RQ_QUEUES' URL to redis-py's from_url and nothing
    else. Raises ImproperlyConfigured when the URL already holds a password or the CA file is
    given for a URL without TLS."""
    if not (password or ca_file):
        return url
    parts = urlsplit(url)
    if password:
        if parts.password:
            raise ImproperlyConfigured("Give the Valkey password in REDIS_URL or REDIS_PASSWORD")
        user = parts.username or ""
        netloc = f"{user}:{quote(password, safe='')}@{parts.netloc.rpartition('@')[2]}"
        parts = parts._replace(netloc=netloc)
    if ca_file:
        if parts.scheme != "rediss":
            raise ImproperlyConfigured("REDIS_CA_FILE needs a rediss:// REDIS_URL (TLS)")
        query = parse_qs(parts.query)
        query["ssl_ca_certs"] = [ca_file]
        parts = parts._replace(query=urlencode(query, doseq=True))
    # urlunsplit would drop the empty authority of unix:///path ("unix:/path"), which
    # redis-py refuses: join the parts by hand.
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}"
