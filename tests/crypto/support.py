"""Shared test helpers: deterministic randomness, blob surgery and the known-answer vector builder.

Run `python -m tests.crypto.support` to rewrite tests/crypto/vectors/spv1.json after a deliberate
format change (and say so in the commit: every stored blob would need migrating).
"""

import hashlib
import json
from pathlib import Path

from tests.crypto import rfc9180
from vault.crypto import Argon2Params, BlobContext, keys, password, recovery, seal
from vault.crypto import _layout as L
from vault.crypto.container import BlobWriter

VECTORS = Path(__file__).parent / "vectors" / "spv1.json"
CHUNK = L.CHUNK


class DeterministicRng:
    """SHA-256 in counter mode over a seed: stands in for os.urandom when building vectors."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


def fixed(label: str, n: int = 32) -> bytes:
    return DeterministicRng(label)(n)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def deterministic_wrap(seed: str):
    """An HPKE wrap with a fixed ephemeral key, in BlobWriter's `_wrap` shape."""

    def wrap(secret: bytes, public_key: bytes, info: bytes) -> bytes:
        return rfc9180.seal(secret, public_key, info, fixed(seed))

    return wrap


def write_blob(path: Path, data: bytes, *, pk: bytes, ctx: BlobContext, dk: bytes, **kw) -> Path:
    with BlobWriter(path, owner_public_key=pk, context=ctx, data_key=dk, **kw) as writer:
        writer.write(data)
    return path


def parsed_header(blob: bytes) -> L.Header:
    return L.parse_header(blob[: L.HEADER.size])


def patch_length(blob: bytes, length: int) -> bytes:
    """Rewrite the plaintext-length field (bytes 8..16) without fixing the MAC."""
    return blob[:8] + length.to_bytes(8, "big") + blob[16:]


def remac(blob: bytes, dk: bytes, ctx: BlobContext) -> bytes:
    """Recompute the header MAC, as only a holder of DK could: isolates the chunk-level checks."""
    header = parsed_header(blob)
    stanzas_end = header.prefix_size - L.MAC_BYTES
    mac = L.header_mac(dk, blob[:64], blob[64:stanzas_end], ctx, header.salt)
    return blob[:stanzas_end] + mac + blob[header.prefix_size :]


OWNER_SK = fixed("vector owner sk")
CTX = BlobContext(user_id="user-1", photo_id="photo-1", variant="original", index=0)
CONTAINER_SIZES = (0, 37, CHUNK + 100)  # empty, one partial chunk, full + partial


def build_vectors(tmp: Path) -> dict:
    owner_pk = keys.public_from_private(OWNER_SK)
    umk = fixed("vector umk")
    rk = fixed("vector recovery key")
    mk = keys.metadata_key(umk)
    info = b"spv/v1/test-info"
    out: dict = {
        "owner_sk": OWNER_SK.hex(),
        "owner_pk": owner_pk.hex(),
        "umk": umk.hex(),
        "metadata_key": mk.hex(),
        "hpke": {
            "secret": fixed("vector hpke secret").hex(),
            "info": info.hex(),
            "ephemeral_sk": fixed("vector hpke eph").hex(),
            "wrapped": rfc9180.seal(
                fixed("vector hpke secret"), owner_pk, info, fixed("vector hpke eph")
            ).hex(),
        },
        "seal": {
            "key": mk.hex(),
            "plaintext": b"Grandma Ada".hex(),
            "aad": seal.row_aad("people_person", "42", "name").hex(),
            "sealed": seal.seal(
                mk,
                b"Grandma Ada",
                seal.row_aad("people_person", "42", "name"),
                rng=DeterministicRng("vector seal"),
            ).hex(),
        },
        "private_key_wrap": keys.wrap_private_key(
            umk, OWNER_SK, rng=DeterministicRng("vector sk wrap")
        ).hex(),
        "recovery": {
            "key": rk.hex(),
            "formatted": recovery.format_recovery_key(rk),
            "umk_wrap": recovery.wrap_master_key(umk, rk, rng=DeterministicRng("vector rk")).hex(),
        },
        "password": [],
        "container": [],
    }
    for label, pepper in (("plain", None), ("peppered", b"p" * 32)):
        wrapped = password.wrap_master_key(
            umk,
            "correct horse battery staple",
            params=Argon2Params.FOR_TESTS,
            pepper=pepper,
            rng=DeterministicRng(f"vector pw {label}"),
        )
        out["password"].append(
            {
                "password": "correct horse battery staple",
                "pepper": pepper.hex() if pepper else None,
                "wrap": wrapped.hex(),
            }
        )
    for size in CONTAINER_SIZES:
        dk = fixed(f"vector dk {size}")
        path = write_blob(
            tmp / f"v{size}",
            pattern(size),
            pk=owner_pk,
            ctx=CTX,
            dk=dk,
            rng=DeterministicRng(f"vector blob {size}"),
            _wrap=deterministic_wrap(f"vector blob eph {size}"),
        )
        blob = path.read_bytes()
        out["container"].append(
            {
                "plaintext": f"pattern({size})",
                "size": size,
                "data_key": dk.hex(),
                "context": [CTX.user_id, CTX.photo_id, CTX.variant, CTX.index],
                "blob_sha256": hashlib.sha256(blob).hexdigest(),
                "blob": blob.hex(),
            }
        )
    return out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        VECTORS.write_text(json.dumps(build_vectors(Path(d)), indent=1) + "\n")
    print(f"wrote {VECTORS}")
