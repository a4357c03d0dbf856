"""Benchmark of vault.crypto: prints one table of throughput, wrap costs, Argon2id and RSS.

Run: .venv/bin/python bench/crypto.py   (a few minutes; writes ~1 GiB to a temporary directory
and deletes it). Targets from the issue: encrypt and decrypt >= 60 % of a plain in-memory copy;
streaming 1 GiB adds < 32 MiB RSS. Not a test: numbers depend on the machine and its load.
"""

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto import (
    Argon2Params,
    BlobContext,
    container,
    hpke_wrap,
    keys,
    password,
)
from vaultdev.report import print_table

MIB = 1 << 20
CTX = BlobContext(user_id="bench-user", photo_id="bench-photo", variant="original")
# Throughput runs go to tmpfs when there is one, so the numbers measure the crypto, not the SSD;
# the RSS run and the "to disk" row use the real disk.
FAST_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - private mkdtemp


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _plain_write(data: bytes, path: Path) -> None:
    """The same bytes stored the same way (temp name, fsync, rename), without any crypto."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        shutil.copyfileobj(io.BytesIO(data), f, 16 * container.CHUNK)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _plain_read(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(container.CHUNK + 16):
            pass


def throughput_rows(sk: bytes, pk: bytes) -> list[tuple[str, ...]]:
    rows = []
    directory = Path(tempfile.mkdtemp(prefix="spv-bench-", dir=FAST_DIR))
    try:
        for size_mib in (1, 10, 100):
            data = os.urandom(size_mib * MIB)
            warm = bytearray(len(data))
            path, plain = directory / f"blob{size_mib}", directory / f"plain{size_mib}"
            runs = 9 if size_mib < 100 else 5
            dk = container.new_data_key()

            def memcpy(data=data, warm=warm):
                warm[:] = data

            def encrypt(data=data, path=path, dk=dk):
                container.encrypt_file(
                    io.BytesIO(data), path, owner_public_key=pk, context=CTX, data_key=dk
                )

            def decrypt(path=path):
                with container.BlobReader(path, context=CTX, private_key=sk) as reader:
                    for _ in reader.iter_plaintext():
                        pass

            rate = {
                name: size_mib / median_seconds(fn, runs)
                for name, fn in (
                    ("memcpy", memcpy),
                    ("plain write", lambda data=data, plain=plain: _plain_write(data, plain)),
                    ("encrypt", encrypt),
                    ("plain read", lambda plain=plain: _plain_read(plain)),
                    ("decrypt", decrypt),
                )
            }
            for op, plain_op in (("encrypt", "plain write"), ("decrypt", "plain read")):
                rows.append(
                    (
                        f"{op} {size_mib} MiB",
                        f"{rate[op]:,.0f}",
                        f"{rate['memcpy']:,.0f}",
                        f"{100 * rate[op] / rate['memcpy']:.0f} %",
                        f"{rate[plain_op]:,.0f}",
                        f"{100 * rate[op] / rate[plain_op]:.0f} %",
                    )
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rows


def ceiling_rows(pk: bytes) -> list[tuple[str, str, str]]:
    """What AES-256-GCM alone can do here, and the real disk with fsync, for context."""
    aead = AESGCM(container.new_data_key())
    data = memoryview(os.urandom(100 * MIB))
    out = bytearray(container.CHUNK + 16)
    nonce = bytes(12)

    def gcm_only():
        for i in range(0, len(data), container.CHUNK):
            aead.encrypt_into(nonce, data[i : i + container.CHUNK], None, out)

    t_gcm = median_seconds(gcm_only, 5)
    disk = Path(tempfile.mkdtemp(prefix="spv-bench-disk-"))
    try:
        dk = container.new_data_key()
        t_disk = median_seconds(
            lambda: container.encrypt_file(
                io.BytesIO(data), disk / "b", owner_public_key=pk, context=CTX, data_key=dk
            ),
            5,
        )
        t_plain = median_seconds(lambda: _plain_write(bytes(data), disk / "p"), 5)
    finally:
        shutil.rmtree(disk, ignore_errors=True)
    return [
        ("AES-256-GCM alone, 64 KiB pieces, 100 MiB", f"{100 / t_gcm:,.0f} MiB/s",
         "ceiling for any AES-GCM container on this CPU (one core)"),
        ("encrypt 100 MiB to the real disk (fsync)", f"{100 / t_disk:,.0f} MiB/s",
         f"plain write of the same bytes with fsync: {100 / t_plain:,.0f} MiB/s"),
    ]  # fmt: skip


def wrap_rows(sk: bytes, pk: bytes) -> list[tuple[str, str, str]]:
    secret = container.new_data_key()
    info = hpke_wrap.grant_info(grant_id="g", user_id="u", photo_id="p", expires_at=2**40)
    blob = hpke_wrap.wrap(secret, pk, info)
    n = 2000
    t_wrap = median_seconds(lambda: hpke_wrap.wrap(secret, pk, info), n)
    t_unwrap = median_seconds(lambda: hpke_wrap.unwrap(blob, sk, info), n)
    params = Argon2Params.DEFAULT
    umk = keys.new_master_key()
    t_argon = median_seconds(lambda: password.wrap_master_key(umk, "bench password"), 5)
    return [
        (
            "HPKE wrap (median of 2000)",
            f"{t_wrap * 1e6:,.0f} µs",
            "X25519 / HKDF-SHA256 / AES-256-GCM",
        ),
        ("HPKE unwrap (median of 2000)", f"{t_unwrap * 1e6:,.0f} µs", ""),
        (
            "Argon2id password wrap (median of 5)",
            f"{t_argon * 1e3:,.0f} ms",
            f"m={params.memory_kib // 1024} MiB, t={params.iterations}, p={params.lanes}",
        ),
    ]


def _vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_child(directory: str) -> None:
    """Stream 1 GiB through the real writer to the real file system, then stream it back."""
    sk, pk = keys.new_keypair()
    dk = container.new_data_key()
    block = os.urandom(MIB)
    path = Path(directory) / "one-gib"
    # Settle the allocator and import-time state before the baseline.
    with container.BlobWriter(path, owner_public_key=pk, context=CTX, data_key=dk) as writer:
        writer.write(block)
    path.unlink()
    base = _vm_kib("VmHWM")
    started = time.perf_counter()
    with container.BlobWriter(path, owner_public_key=pk, context=CTX, data_key=dk) as writer:
        for i in range(1024):
            # Odd-sized pieces, like an upload handler's, so the writer's buffering is exercised.
            piece = block if i % 3 else block[: MIB - 4099] + block[MIB - 4099 :]
            writer.write(piece)
    t_write = time.perf_counter() - started
    after_write = _vm_kib("VmHWM")
    started = time.perf_counter()
    total = 0
    with container.BlobReader(path, context=CTX, private_key=sk) as reader:
        for chunk in reader.iter_plaintext():
            total += len(chunk)
    t_read = time.perf_counter() - started
    after_read = _vm_kib("VmHWM")
    size = path.stat().st_size
    path.unlink()
    assert total == 1024 * MIB
    print(f"{base} {after_write} {after_read} {t_write:.3f} {t_read:.3f} {size}")


def rss_rows() -> list[tuple[str, str, str]]:
    directory = tempfile.mkdtemp(prefix="spv-bench-rss-")  # the real disk, not tmpfs
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", directory],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    base, after_write, after_read = (int(x) for x in out[:3])
    t_write, t_read, size = float(out[3]), float(out[4]), int(out[5])
    return [
        (
            "stream-encrypt 1 GiB to disk: peak RSS added",
            f"{(after_write - base) / 1024:.1f} MiB",
            f"target < 32 MiB; {1024 / t_write:,.0f} MiB/s incl. fsync; file {size:,} B",
        ),
        (
            "stream-decrypt 1 GiB from disk: peak RSS added",
            f"{(after_read - base) / 1024:.1f} MiB",
            f"target < 32 MiB; {1024 / t_read:,.0f} MiB/s; baseline peak {base / 1024:.1f} MiB",
        ),
    ]


def main() -> None:
    sk, pk = keys.new_keypair()
    print(f"vault.crypto benchmark — {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"throughput in MiB/s, median of >= 5 runs, blobs on {FAST_DIR or 'the temp dir'}\n")
    print_table(
        ("operation", "MiB/s", "memcpy", "vs memcpy", "plain file", "vs plain file"),
        throughput_rows(sk, pk),
    )
    print()
    print_table(("measure", "result", "notes"), ceiling_rows(pk) + wrap_rows(sk, pk) + rss_rows())
    print(
        "\nmemcpy: the bytes copied into a warm buffer (the physical limit). plain file: the same"
        "\nbytes written (temp name, fsync, rename) or read back in 64 KiB pieces, without crypto."
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-child":
        rss_child(sys.argv[2])
    else:
        main()
