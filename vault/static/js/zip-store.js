// A minimal streaming ZIP writer (STORE only, no compression: photos are compressed already),
// for the share-link page's "Download all". Our own ~90 lines because no JavaScript zip library
// can be installed on this offline build box; PKWARE APPNOTE 6.3.10 §4.3: each entry is a local
// header with general-purpose flag bit 3 (CRC and sizes follow the data), the data as it
// arrives, a data descriptor (§4.3.9) with the CRC-32 (ISO 3309) computed on the fly; the
// central directory and end record come last. So an entry never has to be held whole: every
// piece goes to the sink as soon as it is known. No ZIP64: refuses over 4 GiB or 65,535 files.
"use strict";

(function (global) {
  const CRC_TABLE = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const FLAGS = 0x0808; // bit 3: data descriptor; bit 11: UTF-8 names
  const DOS_DATE = 0x21; // 1980-01-01
  const LIMIT = 0xfffffff0;

  // crc: the running value (start with crc32Update(0, first)); returns the CRC-32 so far.
  function crc32Update(crc, bytes) {
    let c = (crc ^ 0xffffffff) >>> 0;
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  const crc32 = (bytes) => crc32Update(0, bytes);

  class ZipStream {
    // sink: {write(Uint8Array) -> Promise, close() -> Promise}, e.g. the FileSystemWritableFileStream
    // of showSaveFilePicker, or an in-memory collector.
    constructor(sink) {
      this.sink = sink;
      this.central = [];
      this.count = 0;
      this.offset = 0;
    }

    async put(bytes) {
      if (this.offset + bytes.length > LIMIT) throw new RangeError("too large for a zip without ZIP64");
      this.offset += bytes.length;
      await this.sink.write(bytes);
    }

    // name: a string; chunks: an (async) iterable of Uint8Array, written as they come.
    async add(name, chunks) {
      if (this.count >= 0xffff) throw new RangeError("too many files for a zip without ZIP64");
      const raw = new TextEncoder().encode(name);
      const start = this.offset;
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true);
      local.setUint16(4, 20, true); // version needed
      local.setUint16(6, FLAGS, true);
      local.setUint16(8, 0, true); // STORE
      local.setUint16(12, DOS_DATE, true);
      local.setUint16(26, raw.length, true);
      await this.put(new Uint8Array(local.buffer));
      await this.put(raw);
      let crc = 0;
      let size = 0;
      for await (const chunk of chunks) {
        crc = crc32Update(crc, chunk);
        size += chunk.length;
        await this.put(chunk);
      }
      const descriptor = new DataView(new ArrayBuffer(16));
      descriptor.setUint32(0, 0x08074b50, true);
      descriptor.setUint32(4, crc, true);
      descriptor.setUint32(8, size, true);
      descriptor.setUint32(12, size, true);
      await this.put(new Uint8Array(descriptor.buffer));
      const entry = new DataView(new ArrayBuffer(46));
      entry.setUint32(0, 0x02014b50, true);
      entry.setUint16(4, 20, true);
      entry.setUint16(6, 20, true);
      entry.setUint16(8, FLAGS, true);
      entry.setUint16(14, DOS_DATE, true);
      entry.setUint32(16, crc, true);
      entry.setUint32(20, size, true);
      entry.setUint32(24, size, true);
      entry.setUint16(28, raw.length, true);
      entry.setUint32(42, start, true);
      this.central.push(new Uint8Array(entry.buffer), raw);
      this.count += 1;
    }

    // Writes the central directory and the end record, then closes the sink.
    async finish() {
      const at = this.offset;
      for (const part of this.central) await this.put(part);
      const end = new DataView(new ArrayBuffer(22));
      end.setUint32(0, 0x06054b50, true);
      end.setUint16(8, this.count, true);
      end.setUint16(10, this.count, true);
      end.setUint32(12, this.offset - at, true);
      end.setUint32(16, at, true);
      await this.sink.write(new Uint8Array(end.buffer));
      await this.sink.close();
    }
  }

  // Where a download goes: a file the visitor picks, written chunk by chunk, where the browser
  // offers showSaveFilePicker (Chromium); elsewhere the pieces are kept in page memory and
  // saved as one Blob when closed. Must be called before any other await of a click handler
  // (the picker needs the click's user activation); rejects with AbortError when cancelled.
  async function saveSink(name, type, save) {
    if (typeof global.showSaveFilePicker === "function") {
      const handle = await global.showSaveFilePicker({ suggestedName: name });
      return handle.createWritable();
    }
    return memorySink(name, type, save);
  }

  // save(blob, name) is called on close with everything written.
  function memorySink(name, type, save) {
    const parts = [];
    return {
      write: async (bytes) => void parts.push(bytes),
      close: async () => save(new Blob(parts, { type }), name),
      abort: async () => void parts.splice(0),
    };
  }

  global.ZipStream = ZipStream;
  global.ZipStream.crc32 = crc32;
  global.SaveSink = { saveSink, memorySink };
})(window);
