"""Memory and request counts of the S3 blob store on a real `weed server -s3` (this machine):
peak RSS added by streaming 1 GiB through BlobWriter into the S3 writer (multipart upload) and
back through BlobReader, and the ranged GETs a thumbnail, a preview and a full download take.

Run: .venv/bin/python bench/s3_store_memory.py   (about a minute; starts and removes its own
weed server under /tmp/spv-weed-*). The throughput comparison with the local store is
bench/storage.py's. Not a test: the numbers depend on the machine and its load.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vault.crypto import BlobContext, container, keys
from vaultdev.report import memory_mib, print_table
from vaultdev.services import start_seaweed

GIB = 1024**3
PIECE = 256 * 1024  # what the upload handler is given per call (its chunk_size)


def _context(variant: str) -> BlobContext:
    return BlobContext(user_id="1", photo_id="bench", variant=variant, index=0)


def _put(store, variant: str, size: int, sk: bytes, pk: bytes) -> None:
    key = f"1/bench/{variant}-0.spv"
    piece = os.urandom(PIECE)
    with container.BlobWriter(
        store.writer(key),
        owner_public_key=pk,
        context=_context(variant),
        data_key=container.new_data_key(),
    ) as writer:
        for _ in range(size // PIECE):
            writer.write(piece)
        writer.write(piece[: size % PIECE])


def _gets(store, variant: str, sk: bytes) -> tuple[int, int]:
    """(GETs to open and decrypt the whole blob, GETs for its first 64 KiB only)."""
    rows = []
    for whole in (True, False):
        reader = store.reader(f"1/bench/{variant}-0.spv")
        with container.BlobReader(reader, context=_context(variant), private_key=sk) as blob:
            for _ in blob.iter_plaintext(0, None if whole else min(65536, blob.plaintext_length)):
                pass
        rows.append(reader.gets)
    return rows[0], rows[1]


def main() -> None:
    sk, pk = keys.new_keypair()
    weed = start_seaweed(prefix="spv-weed-bench-")
    try:
        store = weed.store()
        rows = []
        _put(store, "thumb", 1000, sk, pk)  # warm up: boto3's client and connection pool
        before = memory_mib()["VmHWM"]
        _put(store, "rendition", GIB, sk, pk)
        after_write = memory_mib()["VmHWM"]
        rows.append(
            (
                "stream-encrypt 1 GiB into S3 (multipart): peak RSS added",
                f"{after_write - before:.1f} MiB",
                f"peak {after_write:.0f} MiB",
            )
        )
        reader = store.reader("1/bench/rendition-0.spv")
        with container.BlobReader(reader, context=_context("rendition"), private_key=sk) as blob:
            for _ in blob.iter_plaintext():
                pass
        after_read = memory_mib()["VmHWM"]
        rows.append(
            (
                "stream-decrypt 1 GiB from S3 (ranged GETs): peak RSS added",
                f"{after_read - after_write:.1f} MiB",
                f"{reader.gets} GETs",
            )
        )
        for variant, size in [("thumb", 40_000), ("preview", 400_000), ("original", 20 << 20)]:
            _put(store, variant, size, sk, pk)
            whole, first = _gets(store, variant, sk)
            rows.append((f"{variant} ({size / 1e3:,.0f} kB): GETs to decrypt all", str(whole), ""))
            if variant == "original":
                rows.append(("original: GETs for its first 64 KiB", str(first), ""))
        store.delete_prefix("1/bench/")
    finally:
        weed.stop()
    print_table(("measure", "result", "notes"), rows)


if __name__ == "__main__":
    main()
