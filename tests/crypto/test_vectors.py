"""Known-answer vectors: the committed bytes must be re-created exactly and must decrypt.

A failure here means the on-disk format changed; existing vaults would stop opening. If the change
is deliberate, bump the version byte, keep a reader for the old one, and regenerate with
`python -m tests.crypto.support`.
"""

import json

import pytest

from tests.crypto.support import VECTORS, build_vectors, pattern
from vault.crypto import BlobContext, hpke_wrap, keys, password, recovery, seal
from vault.crypto.container import BlobReader


@pytest.fixture(scope="module")
def stored():
    return json.loads(VECTORS.read_text())


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def test_vectors_are_recreated_byte_for_byte(stored, tmp_path):
    assert build_vectors(tmp_path) == stored


def test_stored_hpke_wrap_opens_with_the_library(stored):
    v = stored["hpke"]
    assert hpke_wrap.unwrap(h(v["wrapped"]), h(stored["owner_sk"]), h(v["info"])) == h(v["secret"])


def test_stored_key_wraps_open(stored):
    umk = h(stored["umk"])
    assert keys.metadata_key(umk) == h(stored["metadata_key"])
    assert keys.unwrap_private_key(umk, h(stored["private_key_wrap"])) == h(stored["owner_sk"])
    assert keys.public_from_private(h(stored["owner_sk"])) == h(stored["owner_pk"])
    rk = recovery.parse_recovery_key(stored["recovery"]["formatted"])
    assert rk == h(stored["recovery"]["key"])
    assert recovery.unwrap_master_key(h(stored["recovery"]["umk_wrap"]), rk) == umk
    for v in stored["password"]:
        pepper = h(v["pepper"]) if v["pepper"] else None
        assert password.unwrap_master_key(h(v["wrap"]), v["password"], pepper=pepper) == umk
    s = stored["seal"]
    assert seal.open(h(s["key"]), h(s["sealed"]), h(s["aad"])) == h(s["plaintext"])


def test_stored_blobs_decrypt(stored, tmp_path):
    for v in stored["container"]:
        path = tmp_path / f"blob{v['size']}"
        path.write_bytes(h(v["blob"]))
        ctx = BlobContext(*v["context"])
        for kwargs in ({"private_key": h(stored["owner_sk"])}, {"data_key": h(v["data_key"])}):
            with BlobReader(path, context=ctx, **kwargs) as reader:
                assert reader.data_key == h(v["data_key"])
                assert reader.read_all() == pattern(v["size"])
