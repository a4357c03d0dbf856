"""Settings for the vault: one module, driven by environment variables (see README).

Nothing here has a production default that is unsafe: DEBUG is off unless asked for, and the
secret key must be given unless VAULT_DEV_DEFAULTS is on (`make run`: then one is generated once
into var/).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from vault.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_path,
    env_secret,
    env_str,
    redis_url,
    redis_url_with,
)
from vault.processing.queue import JOB_TIMEOUT, QUEUE, SERIALIZER

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("VAULT_VAR_DIR", BASE_DIR / "var")

# Tracebacks and settings in error pages: never on by default, not even under `make run`
# (`DEBUG=true make run` asks for them).
DEBUG = env_bool("DEBUG", False)
# `make run`'s conveniences for a machine of one's own: a secret key generated into var/,
# localhost as the allowed host, static files from the source folders, emails printed to the
# console. None of them shows a visitor anything, so they need no DEBUG.
VAULT_DEV_DEFAULTS = env_bool("VAULT_DEV_DEFAULTS", False)

# Where encrypted blobs live. Only ciphertext is ever written here (DESIGN §4–5).
VAULT_DATA_DIR = env_path("VAULT_DATA_DIR", VAR_DIR / "data")
# The blob store (DESIGN §14, README "Where blobs live"): "local" keeps them below
# VAULT_DATA_DIR/blobs; "s3" puts them in a bucket of any S3-compatible server (SeaweedFS,
# MinIO, Garage, Ceph RGW, AWS). Only ciphertext is ever sent; object names are ids.
VAULT_BLOB_STORE = env_str("VAULT_BLOB_STORE", "local")
VAULT_S3_ENDPOINT = env_str("VAULT_S3_ENDPOINT", "") or None
VAULT_S3_BUCKET = env_str("VAULT_S3_BUCKET", "") or None
VAULT_S3_ACCESS_KEY = env_str("VAULT_S3_ACCESS_KEY", "") or None
VAULT_S3_SECRET_KEY = env_secret("VAULT_S3_SECRET_KEY") or None
VAULT_S3_REGION = env_str("VAULT_S3_REGION", "") or "us-east-1"
VAULT_S3_CA_FILE = env_str("VAULT_S3_CA_FILE", "") or None
# While `manage.py vault_move_blobs` moves a vault to the object store: the old local blob
# directory, read for blobs not yet moved (writes go to the object store only; deletes to both).
# Only with VAULT_BLOB_STORE=s3; unset it once the move is done (docs/object-store.md).
VAULT_BLOB_FALLBACK_DIR = env_path("VAULT_BLOB_FALLBACK_DIR", None)


def _check_blob_store() -> None:
    """Fail at startup on an unusable store setting, naming it (never showing the secret)."""
    if VAULT_BLOB_STORE not in {"local", "s3"}:
        raise ImproperlyConfigured(
            f'VAULT_BLOB_STORE must be "local" or "s3", not {VAULT_BLOB_STORE!r}'
        )
    if VAULT_BLOB_STORE != "s3":
        if VAULT_BLOB_FALLBACK_DIR is not None:
            raise ImproperlyConfigured("VAULT_BLOB_FALLBACK_DIR is only for VAULT_BLOB_STORE=s3")
        return
    missing = [
        name
        for name, value in [
            ("VAULT_S3_ENDPOINT", VAULT_S3_ENDPOINT),
            ("VAULT_S3_BUCKET", VAULT_S3_BUCKET),
            ("VAULT_S3_ACCESS_KEY", VAULT_S3_ACCESS_KEY),
            ("VAULT_S3_SECRET_KEY (or VAULT_S3_SECRET_KEY_FILE)", VAULT_S3_SECRET_KEY),
        ]
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(f"VAULT_BLOB_STORE=s3 needs {', '.join(missing)}")
    if not VAULT_S3_ENDPOINT.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"VAULT_S3_ENDPOINT must be an http:// or https:// URL, not {VAULT_S3_ENDPOINT!r}"
        )
    if "@" in VAULT_S3_ENDPOINT.split("://", 1)[1].split("/", 1)[0]:
        # /healthz and logs name the endpoint: credentials belong in the settings that never
        # appear there. The URL itself is not repeated here, since it holds one.
        raise ImproperlyConfigured(
            "VAULT_S3_ENDPOINT must not carry a user or password: give them as "
            "VAULT_S3_ACCESS_KEY and VAULT_S3_SECRET_KEY (or VAULT_S3_SECRET_KEY_FILE)"
        )
    if VAULT_S3_CA_FILE and not Path(VAULT_S3_CA_FILE).is_file():
        raise ImproperlyConfigured(f"VAULT_S3_CA_FILE={VAULT_S3_CA_FILE!r} is not a file")


_check_blob_store()
# Model files the worker loads, each beside its model card (DESIGN §7).
VAULT_MODELS_DIR = env_path("VAULT_MODELS_DIR", BASE_DIR / "models")


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if key:
        return key
    if not VAULT_DEV_DEFAULTS:
        raise ImproperlyConfigured(
            "Set SECRET_KEY or SECRET_KEY_FILE (or VAULT_DEV_DEFAULTS=true for development)"
        )
    # Development only: generate once and reuse, so sessions survive a restart of `make run`.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if VAULT_DEV_DEFAULTS else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_email",
    "two_factor",
    "two_factor.plugins.email",
    "django_rq",
    "vault.accounts",
    "vault.photos",
    "vault.people",
    "vault.albums",
    "vault.links",
    "vault.health",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files get the headers too.
    "vault.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "vault.accounts.keyring.KeyringMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vault.error_pages.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "vault.urls"
WSGI_APPLICATION = "vault.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "vault" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vault.navigation.navigation",
                "vault.accounts.context_processors.recovery_key_banner",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    _database = database_from_url(_database_url)
else:
    _database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env_str("DB_NAME", "vault"),
        "USER": env_str("DB_USER", "vault"),
        "PASSWORD": env_secret("DB_PASSWORD") or "",
        "HOST": env_str("DB_HOST", ""),
        "PORT": env_str("DB_PORT", ""),
    }
if _database_url and not _database["PASSWORD"]:
    # Over TCP with scram-sha-256: the password from a file (systemd credential), not the URL.
    _database["PASSWORD"] = env_secret("DB_PASSWORD") or ""
_database["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
_database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
# Across hosts: REDIS_URL=rediss://<ACL user>@host:port/0, the user's password in
# REDIS_PASSWORD[_FILE] and the CA that signed the server's certificate in REDIS_CA_FILE.
RQ_QUEUES = {
    QUEUE: {
        "URL": redis_url_with(
            REDIS_URL,
            password=env_secret("REDIS_PASSWORD"),
            ca_file=env_str("REDIS_CA_FILE", "") or None,
        ),
        "DEFAULT_TIMEOUT": JOB_TIMEOUT,
        "SERIALIZER": SERIALIZER,
    }
}
# Seconds between RQ worker heartbeats is worker_ttl - 15; /healthz calls a worker dead when
# its heartbeat is older than this.
VAULT_WORKER_TTL = env_int("VAULT_WORKER_TTL", 30, minimum=20)


def _worker_enrolment_secret() -> tuple[bytes, bool]:
    """(secret, whether it was derived from SECRET_KEY). Workers tag their advertised keys
    with it and the web grants only to tagged keys (vault.processing.enrolment). Unset, it is
    derived from SECRET_KEY, which the web and the workers of one box share (`make run`,
    tests, a one-box install); workers on other hosts need it set, and `check --deploy` warns
    while it is not."""
    secret = env_secret("VAULT_WORKER_ENROLMENT_SECRET")
    if secret:
        if len(secret) < 32:
            raise ImproperlyConfigured(
                "VAULT_WORKER_ENROLMENT_SECRET must be at least 32 characters "
                "(e.g. `openssl rand -base64 32`)"
            )
        return secret.encode(), False
    derived = hmac.new(SECRET_KEY.encode(), b"spv/v1/worker-enrolment-secret", hashlib.sha256)
    return derived.digest(), True


VAULT_WORKER_ENROLMENT_SECRET, VAULT_WORKER_ENROLMENT_FROM_SECRET_KEY = _worker_enrolment_secret()
# The host name a worker advertises with its key (shown per worker by /healthz).
VAULT_WORKER_HOST = env_str("VAULT_WORKER_HOST", "") or socket.gethostname()

# Photos (DESIGN §6). Uploads stream through the encrypting handler of the upload view only;
# everywhere else file fields are dropped, so no plaintext upload ever reaches /tmp.
FILE_UPLOAD_HANDLERS = ["vault.photos.upload_handler.DiscardUploadHandler"]
VAULT_MAX_UPLOAD_BYTES = env_int("VAULT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1024)
VAULT_MAX_PIXELS = env_int("VAULT_MAX_PIXELS", 100_000_000, minimum=1_000_000)
# Videos (DESIGN §12): the largest upload, and each decode's caps in the worker (seconds of
# wall time; pixels of a frame, 8K UHD by default, like VAULT_MAX_PIXELS for photos).
VAULT_MAX_VIDEO_BYTES = env_int("VAULT_MAX_VIDEO_BYTES", 4 * 1024**3, minimum=1024)
# The upload page sends files from this size resumably (tus), in pieces of this size.
VAULT_RESUMABLE_FROM_BYTES = env_int("VAULT_RESUMABLE_FROM_BYTES", 8 * 1024 * 1024, minimum=1)
VAULT_RESUMABLE_PIECE_BYTES = env_int("VAULT_RESUMABLE_PIECE_BYTES", 8 * 1024 * 1024, minimum=1024)
VAULT_VIDEO_DECODE_SECONDS = env_int("VAULT_VIDEO_DECODE_SECONDS", 120, minimum=5)
VAULT_VIDEO_MAX_FRAME_PIXELS = env_int("VAULT_VIDEO_MAX_FRAME_PIXELS", 7680 * 4320, minimum=1)
# How long a processing grant may wait in the queue before the worker refuses it.
VAULT_GRANT_LIFETIME = env_int("VAULT_GRANT_LIFETIME", 24 * 60 * 60, minimum=60)
# Seconds a browser may keep decrypted thumbnails and previews (Cache-Control: private,
# max-age); 0, the default, sends no-store. Originals are never cached.
VAULT_CACHE_DECRYPTED_SECONDS = env_int("VAULT_CACHE_DECRYPTED_SECONDS", 0, minimum=0)
# Tests only: a file naming a pipeline step; while it exists, jobs wait after that step (so a
# test can kill or race a worker in the middle of a job). Unset in production.
VAULT_PIPELINE_HOLD_FILE = env_str("VAULT_PIPELINE_HOLD_FILE", "") or None
# Seconds between the worker's heartbeats while a job runs; its key lives at least this + 10 s.
VAULT_JOB_MONITORING_INTERVAL = env_int("VAULT_JOB_MONITORING_INTERVAL", 10, minimum=1)
# Backups (vault.backup, `manage.py vault_backup`, the systemd timer): where snapshots go, how
# many are kept, and the age past which /healthz reports the last good one as too old. Unset
# VAULT_BACKUP_DIR (development) leaves backups out of /healthz. VAULT_PG_BIN_DIR: where
# pg_dump/pg_restore are (empty: found on PATH, as Debian's are).
VAULT_BACKUP_DIR = env_path("VAULT_BACKUP_DIR", None)
VAULT_BACKUP_KEEP = env_int("VAULT_BACKUP_KEEP", 7, minimum=1)
VAULT_BACKUP_MAX_AGE = env_int("VAULT_BACKUP_MAX_AGE", 26 * 60 * 60, minimum=60)
VAULT_PG_BIN_DIR = env_str("VAULT_PG_BIN_DIR", "") or None
# Worker processes on this machine (`make run` starts this many; systemd runs vault-worker@N),
# and TensorFlow threads per worker: by default the cores shared out, so that N workers do not
# oversubscribe the CPU (each would otherwise start one thread per core).
VAULT_WORKERS = env_int("VAULT_WORKERS", 1, minimum=1)
VAULT_ML_THREADS = env_int(
    "VAULT_ML_THREADS", max(1, (os.cpu_count() or 1) // VAULT_WORKERS), minimum=1
)

AUTH_USER_MODEL = "accounts.User"
# The password is checked only by unwrapping the master key (DESIGN §4); no Django hash exists.
AUTHENTICATION_BACKENDS = ["vault.accounts.backends.KeyWrapBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# The vault needs real sessions in the database: the keyring's sealed half lives there.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Two-factor login (django-two-factor-auth + django-otp). Codes are throttled per device with
# growing delays; during a delay even the right code is refused.
TWO_FACTOR_LOGIN_TIMEOUT = 15 * 60
TWO_FACTOR_REMEMBER_COOKIE_AGE = None
OTP_TOTP_ISSUER = "Secure Photo Vault"
OTP_EMAIL_SUBJECT = "Your Secure Photo Vault code"
OTP_EMAIL_BODY_TEMPLATE_PATH = "accounts/email/otp_code.txt"
OTP_EMAIL_TOKEN_VALIDITY = 10 * 60
OTP_EMAIL_THROTTLE_FACTOR = 1
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Password-step throttling (vault.accounts.throttle): free attempts, then doubling delays.
VAULT_LOGIN_FREE_ATTEMPTS = env_int("VAULT_LOGIN_FREE_ATTEMPTS", 5, minimum=1)
VAULT_LOGIN_MAX_DELAY = env_int("VAULT_LOGIN_MAX_DELAY", 60 * 60, minimum=1)
# Passkeys (WebAuthn, DESIGN §13): the relying party's id (a domain) and the exact origin the
# browser reports. Empty: taken from the request's host (already checked against
# ALLOWED_HOSTS) and scheme. Set both behind a proxy that rewrites the host or the scheme.
VAULT_WEBAUTHN_RP_ID = env_str("VAULT_WEBAUTHN_RP_ID", "") or None
VAULT_WEBAUTHN_ORIGIN = env_str("VAULT_WEBAUTHN_ORIGIN", "") or None
# Optional pepper for the password KEK (Argon2id), kept outside the database.
VAULT_PEPPER_FILE = env_str("VAULT_PEPPER_FILE", "") or None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "vault" / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
# Hashed, compressed names need `collectstatic` first (the production install runs it);
# without it (`make run`, tests) whitenoise serves straight from the source folders.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not (DEBUG or VAULT_DEV_DEFAULTS))
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email: SMTP in production; printed to the console under `make run`.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if VAULT_DEV_DEFAULTS
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Secure Photo Vault <vault@localhost>")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive")

# Always on: no framing, no MIME sniffing, no referrer to other sites.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Sent by vault.security_headers on every response, static files and error pages included.
# Every script and style is a file of our own (no inline code, no `style=` attribute, no CDN);
# images are our own URLs (the QR code is inline SVG markup, not an image). SECURE_CSP has the
# shape Django 6.0 reads, so that the upgrade swaps the middleware and keeps the setting.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
}
# The policy of a decrypted picture or download (vault/photos/views/content.py) instead of the
# pages' one: opened directly, the browser shows an image in a document of its own whose inline
# style `style-src 'self'` would refuse (Chromium logs an error per view). Nothing else may load
# or run in it. (No `sandbox`: its opaque origin makes the viewer's favicon request cross-origin,
# which Cross-Origin-Resource-Policy then blocks, with an error of its own.)
SECURE_CSP_MEDIA = {
    "default-src": ["'none'"],
    "img-src": ["'self'"],
    "style-src": ["'unsafe-inline'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'none'"],
    "base-uri": ["'none'"],
}
# Browser features no page uses, denied to the vault and anything it might embed; also no
# advertising-interest groups computed from visits (the last two).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "browsing-topics",
        "interest-cohort",
    )
}
SECURE_CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=300)

# Behind HTTPS (a TLS-terminating nginx in production), cookies become Secure and HSTS is sent.
VAULT_HTTPS = env_bool("VAULT_HTTPS", False)
if VAULT_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Pillow's debug lines hold EXIF values (camera, GPS, times): never in a log.
        "PIL": {"level": "INFO"},
    },
}
