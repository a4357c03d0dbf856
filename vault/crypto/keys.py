"""Per-user key material: the master key (UMK), the X25519 key pair and keys derived from UMK.

UMK never encrypts anything directly; it is the root of separate HKDF subkeys, one per purpose
("spv/v1/meta" for metadata, "spv/v1/sk-wrap" for the private key), so no key serves two roles.
"""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vault.crypto import seal as _seal
from vault.crypto._primitives import KEY_BYTES, Rng, hkdf, require_key, system_rng

_SK_WRAP_AAD = b"spv/v1/x25519-private-key"
_RAW = serialization.Encoding.Raw


def new_master_key() -> bytes:
    return system_rng(KEY_BYTES)


def new_keypair() -> tuple[bytes, bytes]:
    """Return (private_raw32, public_raw32) for X25519."""
    sk = X25519PrivateKey.generate()
    private = sk.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return private, _public_raw(sk)


def public_from_private(sk: bytes) -> bytes:
    return _public_raw(load_private(sk))


def load_private(sk: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(require_key(sk, "private key"))


def _public_raw(sk: X25519PrivateKey) -> bytes:
    return sk.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)


def metadata_key(umk: bytes) -> bytes:
    """MK = HKDF(UMK, info="spv/v1/meta"): seals names, embeddings, filenames and EXIF."""
    return hkdf(require_key(umk, "master key"), b"spv/v1/meta")


def content_mac_key(mk: bytes) -> bytes:
    """Key of the duplicate finder: HMAC-SHA-256 under it over a photo's bytes (DESIGN §6).
    Derived from MK rather than MK itself, so MK keys only one primitive."""
    return hkdf(require_key(mk, "metadata key"), b"spv/v1/content-mac")


def live_pair_key(mk: bytes) -> bytes:
    """Key of the Live Photo pairing (vault/photos/live_photos.py): HMAC-SHA-256 under it over
    an upload batch's base names and content identifiers, so neither is kept in clear."""
    return hkdf(require_key(mk, "metadata key"), b"spv/v1/live-pair")


def _sk_wrap_key(umk: bytes) -> bytes:
    return hkdf(require_key(umk, "master key"), b"spv/v1/sk-wrap")


def wrap_private_key(umk: bytes, sk: bytes, *, rng: Rng = system_rng) -> bytes:
    return _seal.seal(_sk_wrap_key(umk), require_key(sk, "private key"), _SK_WRAP_AAD, rng=rng)


def unwrap_private_key(umk: bytes, blob: bytes) -> bytes:
    return _seal.open(_sk_wrap_key(umk), blob, _SK_WRAP_AAD)
