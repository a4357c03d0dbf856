// SPV1 reader for the browser (docs/spv1.md, "A browser reader"), with WebCrypto only.
//
// The visitor of a share link holds a photo's data key DK (unwrapped in the page from the link
// key in the URL fragment), never the owner's private key: this reader opens a blob with DK, as
// `BlobReader(data_key=…)` does in Python, and runs the same checks in the same order. Every
// failure rejects with SPV1.DecryptionError("decryption failed"), whichever check failed.
// A classic script (not a module) so that pages and tests reach it as `window.SPV1`.
"use strict";

(function (global) {
  const MAGIC = [0x89, 0x53, 0x50, 0x56];
  const HEADER = 64;
  const STANZA = 96;
  const MAC = 32;
  const TAG = 16;
  const CHUNK = 65536;
  const MAX_LENGTH = 2 ** 36;
  const MAX_STANZAS = 8;
  const encoder = new TextEncoder();

  class DecryptionError extends Error {
    constructor() {
      super("decryption failed");
      this.name = "DecryptionError";
    }
  }

  function fail() {
    throw new DecryptionError();
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  // vault.crypto._encoding.length_prefixed: label ‖ (u16 length ‖ UTF-8) per part.
  function lengthPrefixed(label, ...parts) {
    const pieces = [typeof label === "string" ? encoder.encode(label) : label];
    for (const part of parts) {
      const raw = encoder.encode(String(part));
      if (raw.length > 1024) throw new RangeError("field longer than 1024 bytes");
      pieces.push(new Uint8Array([raw.length >> 8, raw.length & 0xff]), raw);
    }
    return concat(...pieces);
  }

  // vault.crypto.context.BlobContext.encode.
  function context(userId, photoId, variant, index = 0) {
    const tail = new Uint8Array(4);
    new DataView(tail.buffer).setUint32(0, index);
    return concat(lengthPrefixed("spv/v1/context", userId, photoId, variant), tail);
  }

  function fromHex(hex) {
    if (hex.length % 2) throw new RangeError("odd hex length");
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // HKDF-SHA-256 with an empty salt when none is given: HMAC pads a short key with zeros, so
  // this equals RFC 5869's default salt of 32 zero bytes that Python's `salt=None` uses.
  async function hkdf(ikm, info, salt = new Uint8Array(0)) {
    const base = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info },
      base,
      256,
    );
    return new Uint8Array(bits);
  }

  async function aesKey(raw) {
    return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  }

  async function aesOpen(key, nonce, data, additionalData) {
    const params = { name: "AES-GCM", iv: nonce, tagLength: 128 };
    if (additionalData) params.additionalData = additionalData;
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, key, data));
    } catch {
      return fail();
    }
  }

  function requireKey(key) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new TypeError("a key is 32 bytes (Uint8Array)");
    }
  }

  // vault.crypto.seal.open: 01 ‖ r (24) ‖ AES-GCM(HKDF(key, "spv/v1/seal" ‖ r[:12]), r[12:]).
  async function unseal(key, sealed, aad) {
    requireKey(key);
    if (sealed.length < 1 + 24 + TAG || sealed[0] !== 1) fail();
    const r = sealed.subarray(1, 25);
    const subkey = await aesKey(await hkdf(key, concat(encoder.encode("spv/v1/seal"), r.subarray(0, 12))));
    return aesOpen(subkey, r.slice(12), sealed.subarray(25), aad);
  }

  function chunkCount(length) {
    return Math.max(1, Math.ceil(length / CHUNK));
  }

  function nonce(index, last) {
    const out = new Uint8Array(12);
    const view = new DataView(out.buffer);
    // index < 2^36 / 2^16 = 2^20, so the 11-byte big-endian counter fits its low 4 bytes.
    view.setUint32(7, index);
    out[11] = last ? 1 : 0;
    return out;
  }

  // Checks 1-4 and 6 of docs/spv1.md ("Reader checks") on the prefix of a blob whose whole
  // size is `size`: returns {length, chunks, bodyOffset, payloadKey} or rejects.
  async function openHeader(prefix, size, ctx, dataKey) {
    requireKey(dataKey);
    if (size < HEADER || prefix.length < HEADER) fail();
    const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
    for (let i = 0; i < 4; i++) if (prefix[i] !== MAGIC[i]) fail();
    const nStanzas = prefix[7];
    if (prefix[4] !== 1 || prefix[5] !== 1 || prefix[6] !== 16) fail();
    if (nStanzas < 1 || nStanzas > MAX_STANZAS) fail();
    const bigLength = view.getBigUint64(8);
    if (bigLength > BigInt(MAX_LENGTH)) fail();
    const length = Number(bigLength);
    const chunks = chunkCount(length);
    const bodyOffset = HEADER + STANZA * nStanzas + MAC;
    if (size !== bodyOffset + length + TAG * chunks) fail();
    if (prefix.length < bodyOffset) fail();
    for (let s = 0; s < nStanzas; s++) {
      const at = HEADER + STANZA * s;
      if (prefix[at] !== 1) fail();
      for (const i of [1, 2, 3, 12, 13, 14, 15]) if (prefix[at + i] !== 0) fail();
    }
    const blobId = prefix.slice(16, 32);
    const salt = prefix.slice(32, 64);
    const signed = prefix.subarray(0, bodyOffset - MAC);
    const tag = prefix.subarray(bodyOffset - MAC, bodyOffset);
    const macKey = await crypto.subtle.importKey(
      "raw",
      await hkdf(dataKey, encoder.encode("spv/v1/header"), salt),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    // subtle.verify compares in constant time.
    if (!(await crypto.subtle.verify("HMAC", macKey, tag, concat(signed, ctx)))) fail();
    const payloadKey = await aesKey(
      await hkdf(dataKey, concat(encoder.encode("spv/v1/payload"), blobId), salt),
    );
    return { length, chunks, bodyOffset, payloadKey };
  }

  // The plaintext of chunk after chunk, each yielded only after its tag verified. `readAt(start,
  // end)` returns the stored bytes [start, end) (a slice of a Blob, a fetched range, …); a short
  // read fails. Memory: one chunk at a time, so a large original streams to a download.
  async function* chunksOf(opened, readAt) {
    const { length, chunks, bodyOffset, payloadKey } = opened;
    for (let i = 0; i < chunks; i++) {
      const plain = i === chunks - 1 ? length - CHUNK * i : CHUNK;
      const start = bodyOffset + i * (CHUNK + TAG);
      const stored = await readAt(start, start + plain + TAG);
      if (stored.length !== plain + TAG) fail();
      yield await aesOpen(payloadKey, nonce(i, i === chunks - 1), stored);
    }
  }

  // Opens a whole blob held in memory (Uint8Array) and returns its plaintext (Uint8Array).
  async function open(blob, ctx, dataKey) {
    const opened = await openHeader(blob, blob.length, ctx, dataKey);
    const out = new Uint8Array(opened.length);
    let at = 0;
    for await (const part of chunksOf(opened, async (s, e) => blob.subarray(s, e))) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  // Opens a blob held as a Blob/File without reading it whole: an async iterator of plaintext
  // chunks (for streaming a large original to a download).
  async function openStream(file, ctx, dataKey) {
    const readAt = async (s, e) => new Uint8Array(await file.slice(s, e).arrayBuffer());
    const prefix = await readAt(0, Math.min(file.size, HEADER + STANZA * MAX_STANZAS + MAC));
    const opened = await openHeader(prefix, file.size, ctx, dataKey);
    return { length: opened.length, chunks: chunksOf(opened, readAt) };
  }

  global.SPV1 = {
    DecryptionError,
    context,
    lengthPrefixed,
    concat,
    fromHex,
    toHex,
    hkdf,
    unseal,
    open,
    openStream,
  };
})(window);
