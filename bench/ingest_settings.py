"""Settings for bench/ingest.py's server: the vault's own, plus two plain baseline views."""

from vault.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
