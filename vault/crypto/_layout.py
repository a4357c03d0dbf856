"""SPV1 byte layout: header and stanza structs, size arithmetic, key and nonce derivation.

Everything here is pure and does no I/O, so the reader can validate a header completely (magic,
version, suite, ranges, exact file size) before it touches a key. See container.py for the format.
"""

import hashlib
import hmac
import struct
from dataclasses import dataclass

from vault.crypto._primitives import hkdf
from vault.crypto.context import BlobContext
from vault.crypto.errors import DecryptionError
from vault.crypto.hpke_wrap import wrapped_size

MAGIC = b"\x89SPV"
VERSION = 1
SUITE = 1  # X25519 HPKE stanzas, HKDF-SHA256, HMAC-SHA-256 header MAC, AES-256-GCM chunks
CHUNK_LOG2 = 16
CHUNK = 1 << CHUNK_LOG2
TAG = 16
MAC_BYTES = 32
BLOB_ID_BYTES = 16
SALT_BYTES = 32

HEADER = struct.Struct(">4sBBBBQ16s32s")  # 64 bytes
STANZA = struct.Struct(">B3s8s4s80s")  # 96 bytes: type, reserved, key id, reserved, HPKE
STANZA_OWNER = 1
KEY_ID_BYTES = 8
MAX_STANZAS = 8
# 64 GiB: far beyond any photo or home video, small enough that a forged length cannot make a
# reader loop or allocate absurdly (and the exact-size check ties it to the real file anyway).
MAX_PLAINTEXT = 1 << 36

assert HEADER.size == 64 and STANZA.size == 96 and wrapped_size(32) == 80


@dataclass(frozen=True)
class Header:
    n_stanzas: int
    plaintext_length: int
    blob_id: bytes
    salt: bytes

    def pack(self) -> bytes:
        return HEADER.pack(
            MAGIC, VERSION, SUITE, CHUNK_LOG2, self.n_stanzas,
            self.plaintext_length, self.blob_id, self.salt,
        )  # fmt: skip

    @property
    def prefix_size(self) -> int:
        """Bytes before the first chunk: header, stanzas and MAC."""
        return HEADER.size + STANZA.size * self.n_stanzas + MAC_BYTES

    @property
    def chunk_count(self) -> int:
        return chunk_count(self.plaintext_length)

    @property
    def file_size(self) -> int:
        return self.prefix_size + self.plaintext_length + TAG * self.chunk_count


def chunk_count(plaintext_length: int) -> int:
    """An empty plaintext is one empty final chunk; otherwise ceil(length / CHUNK)."""
    return max(1, -(-plaintext_length // CHUNK))


def parse_header(raw: bytes) -> Header:
    """Check every header field's range; raise DecryptionError before any cryptography."""
    if len(raw) != HEADER.size:
        raise DecryptionError()
    magic, version, suite, chunk_log2, n_stanzas, length, blob_id, salt = HEADER.unpack(raw)
    if (
        magic != MAGIC
        or version != VERSION
        or suite != SUITE
        or chunk_log2 != CHUNK_LOG2
        or not 1 <= n_stanzas <= MAX_STANZAS
        or length > MAX_PLAINTEXT
    ):
        raise DecryptionError()
    return Header(n_stanzas, length, blob_id, salt)


def parse_stanzas(raw: bytes, n: int) -> list[tuple[bytes, bytes]]:
    """Return (key id, HPKE wrap) per stanza; unknown types and non-zero reserved bytes fail."""
    out = []
    for i in range(n):
        kind, res1, key_id, res2, wrapped = STANZA.unpack_from(raw, i * STANZA.size)
        if kind != STANZA_OWNER or any(res1) or any(res2):
            raise DecryptionError()
        out.append((key_id, wrapped))
    return out


def owner_stanza(key_id: bytes, wrapped: bytes) -> bytes:
    return STANZA.pack(STANZA_OWNER, bytes(3), key_id, bytes(4), wrapped)


def key_id(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()[:KEY_ID_BYTES]


def stanza_info(blob_id: bytes, context: BlobContext) -> bytes:
    """HPKE `info` for the owner's wrap of DK: bound to this blob and its context."""
    return b"spv/v1/owner-stanza" + blob_id + context.encode()


def header_mac(
    dk: bytes, header: bytes, stanzas: bytes, context: BlobContext, salt: bytes
) -> bytes:
    mac_key = hkdf(dk, b"spv/v1/header", salt=salt)
    return hmac.new(mac_key, header + stanzas + context.encode(), hashlib.sha256).digest()


def payload_key(dk: bytes, salt: bytes, blob_id: bytes) -> bytes:
    """K_pay = HKDF(DK, salt, "spv/v1/payload" ‖ blob id): unique per blob, known before length."""
    return hkdf(dk, b"spv/v1/payload" + blob_id, salt=salt)


def chunk_nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
