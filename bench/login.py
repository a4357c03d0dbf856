"""How long the password step of sign-in takes, and what it is made of.

Run: .venv/bin/python bench/login.py. The password step checks Django's password hash, then
derives the key-encryption key with Argon2id and unwraps the master key and the private key
(vault.accounts.services.keys_unlock_with_password). Baseline in the same run: the Django hash
check alone, which is what a sign-in costs in an app that encrypts nothing.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

from vault.crypto import Argon2Params, keys, password  # noqa: E402

RUNS = 7
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a sample, not a secret


def median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    params = Argon2Params.DEFAULT
    encoded = make_password(PASSWORD)
    umk = keys.new_master_key()
    sk, _ = keys.new_keypair()
    umk_wrap = password.wrap_master_key(umk, PASSWORD, params=params)
    sk_wrap = keys.wrap_private_key(umk, sk)

    django_hash = median_ms(lambda: check_password(PASSWORD, encoded))

    def unlock():
        master = password.unwrap_master_key(umk_wrap, PASSWORD)
        keys.unwrap_private_key(master, sk_wrap)

    unwrap = median_ms(unlock)
    step = median_ms(lambda: (check_password(PASSWORD, encoded), unlock()))

    print(f"password step of sign-in — {os.cpu_count()} CPUs, median of {RUNS} runs")
    print(f"Argon2id m={params.memory_kib // 1024} MiB, t={params.iterations}, p={params.lanes}")
    print()
    print(f"{'part':60} {'ms':>8} {'vs baseline':>12}")
    print(f"{'-' * 60} {'-' * 8} {'-' * 12}")
    rows = [
        (f"Django password hash check ({encoded.split('$')[0]}) = baseline", django_hash),
        ("Argon2id KEK + unwrap UMK and private key", unwrap),
        ("whole password step (both)", step),
    ]
    for name, ms in rows:
        print(f"{name:60} {ms:8.0f} {ms / django_hash:11.2f}x")


if __name__ == "__main__":
    main()
