"""How long the password step of sign-in takes, and what it is made of.

Run: .venv/bin/python bench/login.py   (about half a minute: it starts a throwaway PostgreSQL)

The password step is `django.contrib.auth.authenticate()` through KeyWrapBackend: find the
account by email, derive the key-encryption key with Argon2id (production parameters) and
unwrap the master key and the private key; the login view reuses those keys, so that is the
whole cost. Wrong passwords and unknown emails are timed too: they must cost the same, so that
the time does not tell which accounts exist. For comparison, in the same run: Django's own
password hash check (what a sign-in costs in an app that encrypts nothing: the baseline) and
the step as it was before, that hash check followed by the same unwrap. Target: <= 300 ms.
Not a test: the numbers depend on the machine and on what else runs.
"""

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultdev.report import print_table  # noqa: E402
from vaultdev.services import start_postgres  # noqa: E402

RUNS = 9
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a sample, not a secret
EMAIL = "bench@example.org"


def median_ms(fns: list) -> list[float]:
    """Median time of each function; taken in turns, so that a busy spell on a shared machine
    slows all of them alike rather than one row."""
    for fn in fns:
        fn()  # warm-up: connections, caches, the decoy wrap
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(RUNS):
        for fn, series in zip(fns, times, strict=True):
            started = time.perf_counter()
            fn()
            series.append(time.perf_counter() - started)
    return [statistics.median(series) * 1000 for series in times]


def measure() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import authenticate
    from django.contrib.auth.hashers import check_password, make_password
    from django.core.management import call_command

    from vault.accounts.services import account_create, keys_unlock_with_password
    from vault.crypto import Argon2Params

    call_command("migrate", verbosity=0)
    user, _ = account_create(name="Bench", email=EMAIL, password=PASSWORD, email_verified=True)
    assert getattr(settings, "VAULT_ARGON2_PARAMS", None) is None, "production parameters only"
    params = Argon2Params.DEFAULT
    encoded = make_password(PASSWORD)

    def before():
        check_password(PASSWORD, encoded)
        keys_unlock_with_password(user, PASSWORD)

    def sign_in(email: str, password_text: str, *, expect: bool):
        def attempt():
            user = authenticate(None, username=email, password=password_text)
            assert (user is not None) is expect

        return attempt

    parts = {
        f"Django password hash check ({encoded.split('$')[0]}) = baseline": lambda: check_password(
            PASSWORD, encoded
        ),
        "Argon2id unwrap alone (UMK, then private key)": lambda: keys_unlock_with_password(
            user, PASSWORD
        ),
        "before: Django hash check, then Argon2id unwrap": before,
        "now: authenticate(), right password": sign_in(EMAIL, PASSWORD, expect=True),
        "now: authenticate(), wrong password": sign_in(EMAIL, "not it at all", expect=False),
        "now: authenticate(), unknown email": sign_in("no@example.org", PASSWORD, expect=False),
    }
    rows = list(zip(parts, median_ms(list(parts.values())), strict=True))
    baseline = rows[0][1]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"password step of sign-in — {os.cpu_count()} CPUs (load {load}), median of {RUNS} runs")
    print(f"Argon2id m={params.memory_kib // 1024} MiB, t={params.iterations}, p={params.lanes}")
    print()
    print_table(
        ("part", "ms", "vs baseline"),
        [(name, f"{ms:.0f}", f"{ms / baseline:.2f}x") for name, ms in rows],
    )


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="spvl-", dir="/tmp"))
    pg = None
    try:
        pg = start_postgres(root / "pg", database="vault")
        os.environ.update(
            DJANGO_SETTINGS_MODULE="vault.settings",
            DATABASE_URL=pg.url("vault"),
            VAULT_DEV_DEFAULTS="true",  # a generated secret key, in the throwaway directory
            VAULT_VAR_DIR=str(root / "var"),
            LOG_LEVEL="WARNING",
        )
        measure()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
