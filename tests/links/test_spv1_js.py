"""The browser's SPV1 reader (vault/static/js/spv1.js) against the Python reader's known-answer
vectors (tests/crypto/vectors/spv1.json, docs/spv1.md), run in real Chromium."""

import hashlib
import hmac
import json
import struct
from pathlib import Path

import pytest

from vault.crypto._primitives import hkdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VECTORS = json.loads((Path(__file__).parents[1] / "crypto/vectors/spv1.json").read_text())


def _reader(page):
    page.goto("/")
    page.add_script_tag(url="/static/js/spv1.js")
    return page


def _pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def test_js_reader_opens_every_vector_blob_to_its_plaintext(page):
    _reader(page)
    for entry in VECTORS["container"]:
        plain_hex = page.evaluate(
            """async ([blob, dk, ctx]) => {
                const plain = await SPV1.open(SPV1.fromHex(blob), SPV1.context(...ctx),
                                              SPV1.fromHex(dk));
                return SPV1.toHex(plain);
            }""",
            [entry["blob"], entry["data_key"], entry["context"]],
        )
        assert bytes.fromhex(plain_hex) == _pattern(entry["size"]), entry["size"]


def test_js_reader_streams_a_blob_chunk_by_chunk(page):
    _reader(page)
    entry = VECTORS["container"][2]  # 65636 bytes: one full chunk and a last one of 100
    result = page.evaluate(
        """async ([blob, dk, ctx]) => {
            const file = new Blob([SPV1.fromHex(blob)]);
            const opened = await SPV1.openStream(file, SPV1.context(...ctx), SPV1.fromHex(dk));
            const sizes = [], parts = [];
            for await (const part of opened.chunks) { sizes.push(part.length); parts.push(part); }
            return {length: opened.length, sizes, hex: SPV1.toHex(SPV1.concat(...parts))};
        }""",
        [entry["blob"], entry["data_key"], entry["context"]],
    )
    assert result["length"] == 65636
    assert result["sizes"] == [65536, 100]
    assert bytes.fromhex(result["hex"]) == _pattern(65636)


def test_js_reader_derives_the_documented_intermediate_keys(page):
    """docs/spv1.md's worked example (the 37-byte blob): K_mac and K_pay."""
    _reader(page)
    keys = page.evaluate(
        """async () => {
            const dk = SPV1.fromHex(
              "7de56ab73866a79b75c6c5f5cf86ae25801f8fb1d533903c47cde963cc3b9a5f");
            const blobId = SPV1.fromHex("22794f7d3cbfe9fb76e88c765e16b2b5");
            const salt = SPV1.fromHex(
              "298a0bf1dbee7c84e5c2634e6a6bf0d9bbc8680041f5bdba0489af8e89602eea");
            const enc = new TextEncoder();
            return [
              SPV1.toHex(await SPV1.hkdf(dk, enc.encode("spv/v1/header"), salt)),
              SPV1.toHex(await SPV1.hkdf(
                dk, SPV1.concat(enc.encode("spv/v1/payload"), blobId), salt)),
            ];
        }"""
    )
    assert keys == [
        "f18f28d74d8fb7aa92fc9165c51c9022b619dc9479543f0cee2474eab8e37208",
        "4a8c28e2b2ece3c087fa4796c29121c49efbdf38ec4df12c2197239a413810ce",
    ]


def test_js_unseal_opens_the_seal_vector_and_refuses_another_aad(page):
    _reader(page)
    vector = VECTORS["seal"]
    result = page.evaluate(
        """async ([key, sealed, aad]) => {
            const k = SPV1.fromHex(key), s = SPV1.fromHex(sealed), a = SPV1.fromHex(aad);
            const plain = SPV1.toHex(await SPV1.unseal(k, s, a));
            let wrongAad;
            try {
              await SPV1.unseal(k, s, SPV1.concat(a, new Uint8Array([0])));
              wrongAad = "opened";
            }
            catch (e) { wrongAad = e.message; }
            return {plain, wrongAad};
        }""",
        [vector["key"], vector["sealed"], vector["aad"]],
    )
    assert bytes.fromhex(result["plain"]) == bytes.fromhex(vector["plaintext"])
    assert result["wrongAad"] == "decryption failed"


def test_js_reader_fails_closed_on_every_flipped_byte_truncation_and_wrong_context(page):
    """Every byte of the 37-byte blob flipped, every truncation, one byte appended, another
    context, another key: each is refused with the one error, never a plaintext."""
    _reader(page)
    entry = VECTORS["container"][1]
    outcomes = page.evaluate(
        """async ([blob, dk, ctx]) => {
            const good = SPV1.fromHex(blob), key = SPV1.fromHex(dk), c = SPV1.context(...ctx);
            const tries = [];
            for (let i = 0; i < good.length; i++) {
              const bad = good.slice(); bad[i] ^= 0x01; tries.push(["flip " + i, bad, c, key]);
            }
            for (let n = 0; n < good.length; n++) {
              tries.push(["cut " + n, good.slice(0, n), c, key]);
            }
            tries.push(["append", SPV1.concat(good, new Uint8Array([0])), c, key]);
            tries.push(["context", good, SPV1.context(ctx[0], ctx[1], "thumb", 0), key]);
            const otherKey = key.slice(); otherKey[0] ^= 1;
            tries.push(["key", good, c, otherKey]);
            const out = {};
            for (const [name, bytes, cc, kk] of tries) {
              try { await SPV1.open(bytes, cc, kk); out[name] = "opened"; }
              catch (e) { out[name] = e.name + ": " + e.message; }
            }
            return out;
        }""",
        [entry["blob"], entry["data_key"], entry["context"]],
    )
    assert len(outcomes) == 245 * 2 + 3
    assert set(outcomes.values()) == {"DecryptionError: decryption failed"}, {
        k: v for k, v in outcomes.items() if v != "DecryptionError: decryption failed"
    }


def test_js_reader_refuses_a_blob_truncated_at_a_chunk_boundary_even_with_a_remade_mac(page):
    """The last-chunk flag: the 65636-byte blob cut after its first chunk, with the length and
    MAC remade by a holder of DK, still fails (docs/spv1.md)."""

    entry = VECTORS["container"][2]
    blob = bytearray.fromhex(entry["blob"])
    dk = bytes.fromhex(entry["data_key"])
    body = 64 + 96 + 32
    cut = bytearray(blob[: body + 65536 + 16])
    cut[8:16] = struct.pack(">Q", 65536)
    ctx = (
        b"spv/v1/context"
        + b"".join(struct.pack(">H", len(s)) + s for s in (b"user-1", b"photo-1", b"original"))
        + struct.pack(">I", 0)
    )
    k_mac = hkdf(dk, b"spv/v1/header", salt=bytes(cut[32:64]))
    cut[body - 32 : body] = hmac.new(k_mac, bytes(cut[: body - 32]) + ctx, hashlib.sha256).digest()
    _reader(page)
    outcome = page.evaluate(
        """async ([blob, dk, ctx]) => {
            try { await SPV1.open(SPV1.fromHex(blob), SPV1.context(...ctx), SPV1.fromHex(dk));
                  return "opened"; }
            catch (e) { return e.message; }
        }""",
        [cut.hex(), entry["data_key"], entry["context"]],
    )
    assert outcome == "decryption failed"


def test_streaming_zip_writer_gives_the_same_files_to_any_reader(page):
    """ZipStream writes to a WritableStream-like sink piece by piece (CRC on the fly, data
    descriptors); Python's zipfile reads back the exact bytes, including an empty file and a
    UTF-8 name."""
    import base64
    import io
    import zipfile

    page.goto("/")
    page.add_script_tag(url="/static/js/zip-store.js")
    files = {"a.jpg": _pattern(70_000), "été.txt": b"", "b.bin": bytes(range(256)) * 3}
    result = page.evaluate(
        """async (files) => {
            const written = [];
            let closed = false;
            const sink = {write: async (b) => { written.push(new Uint8Array(b)); },
                          close: async () => { closed = true; }};
            const zip = new ZipStream(sink);
            for (const [name, b64] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                async function* pieces() {  // as the reader yields them: 64 KiB at most
                    for (let i = 0; i < bytes.length; i += 65536) yield bytes.slice(i, i + 65536);
                }
                await zip.add(name, pieces());
            }
            await zip.finish();
            let text = "";
            for (const part of written) text += String.fromCharCode(...part);
            return {closed, writes: written.length, b64: btoa(text)};
        }""",
        {name: base64.b64encode(data).decode() for name, data in files.items()},
    )
    assert result["closed"]
    assert result["writes"] > len(files) * 3
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(result["b64"]))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == list(files)
        for name, data in files.items():
            assert archive.read(name) == data
        assert all(info.flag_bits & 0x08 for info in archive.infolist())
