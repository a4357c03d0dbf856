// A minimal ZIP writer (STORE only, no compression: photos are compressed already), for the
// share-link page's "Download all". Our own ~60 lines because no JavaScript zip library can be
// installed on this offline build box; PKWARE APPNOTE 6.3.10 §4.3 (local headers, central
// directory, end record), CRC-32 of ISO 3309. No ZIP64: refuses over 4 GiB or 65,535 files.
"use strict";

(function (global) {
  const CRC_TABLE = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });

  function crc32(bytes) {
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  class ZipStore {
    constructor() {
      this.parts = [];
      this.central = [];
      this.offset = 0;
    }

    // name: a string; bytes: a Uint8Array (the whole file).
    add(name, bytes) {
      const raw = new TextEncoder().encode(name);
      if (this.central.length >= 0xffff || this.offset + bytes.length > 0xfffffff0) {
        throw new RangeError("too large for a zip without ZIP64");
      }
      const crc = crc32(bytes);
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true);
      local.setUint16(4, 20, true); // version needed
      local.setUint16(6, 0x0800, true); // UTF-8 names
      local.setUint16(8, 0, true); // STORE
      local.setUint16(10, 0, true); // time
      local.setUint16(12, 0x21, true); // date: 1980-01-01
      local.setUint32(14, crc, true);
      local.setUint32(18, bytes.length, true);
      local.setUint32(22, bytes.length, true);
      local.setUint16(26, raw.length, true);
      const entry = new DataView(new ArrayBuffer(46));
      entry.setUint32(0, 0x02014b50, true);
      entry.setUint16(4, 20, true);
      entry.setUint16(6, 20, true);
      entry.setUint16(8, 0x0800, true);
      entry.setUint16(14, 0x21, true);
      entry.setUint32(16, crc, true);
      entry.setUint32(20, bytes.length, true);
      entry.setUint32(24, bytes.length, true);
      entry.setUint16(28, raw.length, true);
      entry.setUint32(42, this.offset, true);
      this.parts.push(local, raw, bytes);
      this.central.push(entry, raw);
      this.offset += 30 + raw.length + bytes.length;
    }

    // The archive as a Blob (application/zip).
    finish() {
      const size = this.central.reduce((n, p) => n + p.byteLength, 0);
      const end = new DataView(new ArrayBuffer(22));
      end.setUint32(0, 0x06054b50, true);
      end.setUint16(8, this.central.length / 2, true);
      end.setUint16(10, this.central.length / 2, true);
      end.setUint32(12, size, true);
      end.setUint32(16, this.offset, true);
      return new Blob([...this.parts, ...this.central, end], { type: "application/zip" });
    }
  }

  global.ZipStore = ZipStore;
  global.ZipStore.crc32 = crc32;
})(window);
