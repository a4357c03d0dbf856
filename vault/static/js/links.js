// The share-link page (docs/links.md): reads the link key LK from the URL fragment, derives
// the access token T (sent as X-Link-Token) and the wrapping key KL (never sent), and decrypts
// everything with spv1.js in this browser. The server only ever sends ciphertext and wraps.
"use strict";

(function () {
  const root = document.getElementById("link-visit");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const linkId = root.dataset.link;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const PARALLEL = 6;
  const SLIDE_MS = 3000;
  // Thumbnails fetched and decrypted per page: a link of 2,000 photos starts with 60 requests,
  // not 2,000; "Show more" adds the next 60.
  const PAGE = 60;
  let token = null;
  let kl = null;
  let pass = null;
  let manifest = null;
  let current = -1;
  let slideshow = null;
  let previewUrl = null;
  let shown = 0;

  function b64urlDecode(text) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=";
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  function b64urlEncode(bytes) {
    return btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  }

  const b64Decode = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

  function setStatus(text) {
    $("link-status").textContent = text;
  }

  function gone() {
    root.replaceChildren();
    const h1 = document.createElement("h1");
    h1.textContent = "This link no longer works";
    const p = document.createElement("p");
    p.textContent =
      "It may have expired or been turned off by the person who shared it. Ask them for a new one.";
    root.append(h1, p);
    root.classList.add("link-gone");
  }

  class Gone extends Error {}

  async function request(path) {
    const headers = { "X-Link-Token": token };
    if (pass) headers["X-Link-Pass"] = pass;
    const response = await fetch(`/l/${linkId}/${path}`, {
      headers,
      credentials: "omit",
      cache: "no-store",
    });
    if (response.status === 410) throw new Gone();
    return response;
  }

  async function start() {
    const lk = b64urlDecode(location.hash.slice(1));
    if (!lk) {
      setStatus("This link is incomplete: the part after # (its key) is missing or damaged.");
      return;
    }
    token = b64urlEncode(await SPV1.hkdf(lk, encoder.encode("spv/v1/link-token")));
    kl = await SPV1.hkdf(lk, encoder.encode("spv/v1/link-key"));
    await loadManifest();
  }

  async function loadManifest() {
    const response = await request("manifest");
    if (response.status === 403) {
      setStatus("");
      $("link-password").hidden = false;
      $("link-password-input").focus();
      return;
    }
    if (!response.ok) {
      setStatus("The photos could not be loaded. Try again later.");
      return;
    }
    manifest = await response.json();
    $("link-password").hidden = true;
    await show();
  }

  async function unlock(event) {
    event.preventDefault();
    const body = new URLSearchParams({ password: $("link-password-input").value });
    const response = await fetch(`/l/${linkId}/unlock`, {
      method: "POST",
      headers: { "X-Link-Token": token },
      body,
      credentials: "omit",
    });
    if (response.status === 410) throw new Gone();
    const answer = await response.json();
    if (!response.ok) {
      $("link-password-error").textContent = answer.error;
      return;
    }
    pass = answer.pass;
    $("link-password-error").textContent = "";
    await loadManifest();
  }

  async function photoKey(photo) {
    if (!photo.key) {
      const aad = SPV1.lengthPrefixed("spv/v1/link-dk", manifest.link, photo.id);
      photo.key = await SPV1.unseal(kl, b64Decode(photo.dk), aad);
      try {
        const nameAad = SPV1.lengthPrefixed("spv/v1/link-field", manifest.link, photo.id, "name");
        photo.fileName = decoder.decode(await SPV1.unseal(kl, b64Decode(photo.name), nameAad));
      } catch {
        photo.fileName = `photo-${photo.id}.jpg`;
      }
      if (photo.place) {
        const aad2 = SPV1.lengthPrefixed("spv/v1/link-field", manifest.link, photo.id, "place");
        photo.where = JSON.parse(decoder.decode(await SPV1.unseal(kl, b64Decode(photo.place), aad2)));
      }
    }
    return photo.key;
  }

  // The plaintext of one variant of a photo, opened and checked in this browser.
  async function decrypted(photo, variant) {
    const key = await photoKey(photo);
    const response = await request(`blob/${photo.id}/${variant}`);
    if (!response.ok) throw new SPV1.DecryptionError();
    const bytes = new Uint8Array(await response.arrayBuffer());
    return SPV1.open(bytes, SPV1.context(photo.owner, photo.id, variant, 0), key);
  }

  async function pictureUrl(photo, variant) {
    const plain = await decrypted(photo, variant);
    return URL.createObjectURL(new Blob([plain], { type: photo.variants[variant].type }));
  }

  function tile(photo, index) {
    const li = document.createElement("li");
    li.className = "link-tile";
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", `Photo ${index + 1}`);
    button.addEventListener("click", () => openViewer(index));
    li.append(button);
    return li;
  }

  async function fillTile(photo, li) {
    try {
      if (!photo.variants.thumb) throw new SPV1.DecryptionError();
      const img = document.createElement("img");
      img.alt = photo.fileName || "";
      img.src = await pictureUrl(photo, "thumb");
      img.alt = photo.fileName;
      li.firstChild.append(img);
    } catch (error) {
      if (error instanceof Gone) throw error;
      li.classList.add("link-error");
      li.firstChild.textContent = "This photo could not be decrypted";
    }
  }

  async function show() {
    const photos = manifest.photos;
    $("link-grid").replaceChildren();
    shown = 0;
    $("link-actions").hidden = photos.length === 0;
    $("link-zip").hidden = !manifest.allow_downloads;
    setStatus(`${photos.length} photo${photos.length === 1 ? "" : "s"}, decrypted in your browser.`);
    await showMore();
  }

  // The next PAGE tiles, their thumbnails decrypted PARALLEL at a time.
  async function showMore() {
    const photos = manifest.photos.slice(shown, shown + PAGE);
    const first = shown;
    shown += photos.length;
    $("link-more").hidden = shown >= manifest.photos.length;
    root.dataset.ready = "false";
    const tiles = photos.map((photo, i) => tile(photo, first + i));
    $("link-grid").append(...tiles);
    let next = 0;
    const worker = async () => {
      while (next < photos.length) {
        const i = next++;
        await fillTile(photos[i], tiles[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, photos.length) }, worker));
    root.dataset.ready = "true";
  }

  async function openViewer(index) {
    const photos = manifest.photos;
    current = (index + photos.length) % photos.length;
    const photo = photos[current];
    const viewer = $("link-viewer");
    viewer.hidden = false;
    $("link-download").hidden = !(manifest.allow_downloads && photo.variants.original);
    $("link-viewer-error").textContent = "";
    const img = $("link-preview");
    img.removeAttribute("src");
    img.hidden = true;
    try {
      const variant = photo.variants.preview ? "preview" : "thumb";
      const url = await pictureUrl(photo, variant);
      if (current !== (index + photos.length) % photos.length) return URL.revokeObjectURL(url);
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = url;
      img.src = url;
      img.alt = photo.fileName;
      img.hidden = false;
      const place = photo.where ? ` · ${photo.where.latitude}, ${photo.where.longitude}` : "";
      $("link-caption").textContent = `${photo.fileName}${photo.taken ? " · " + photo.taken : ""}${place}`;
    } catch (error) {
      if (error instanceof Gone) return gone();
      $("link-viewer-error").textContent = "This photo could not be decrypted.";
    }
  }

  function closeViewer() {
    stopSlideshow();
    $("link-viewer").hidden = true;
    $("link-caption").textContent = "";
    current = -1;
  }

  function stopSlideshow() {
    if (slideshow) clearInterval(slideshow);
    slideshow = null;
  }

  function startSlideshow() {
    openViewer(current < 0 ? 0 : current);
    slideshow = setInterval(() => openViewer(current + 1), SLIDE_MS);
  }

  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }

  // An original's plaintext, checked chunk by chunk (SPV1.openStream): the ciphertext arrives
  // as a Blob (the browser may keep it on disk) and each chunk is yielded once verified, so a
  // sink can write it out before the next one is read.
  async function* originalChunks(photo) {
    const key = await photoKey(photo);
    const response = await request(`blob/${photo.id}/original`);
    if (!response.ok) throw new SPV1.DecryptionError();
    const file = await response.blob();
    const ctx = SPV1.context(photo.owner, photo.id, "original", 0);
    const opened = await SPV1.openStream(file, ctx, key);
    yield* opened.chunks;
  }

  // A sink that failed half-way drops what it wrote (abort discards the picked file's partial
  // content in Chromium) so that no truncated photo or zip is left behind.
  async function dropped(sink) {
    if (sink && sink.abort) await sink.abort().catch(() => {});
  }

  const cancelled = (error) => error && error.name === "AbortError";

  async function downloadOne() {
    const photo = manifest.photos[current];
    let sink = null;
    try {
      sink = await SaveSink.saveSink(photo.fileName, photo.variants.original.type, save);
      for await (const part of originalChunks(photo)) await sink.write(part);
      await sink.close();
    } catch (error) {
      await dropped(sink);
      if (cancelled(error)) return; // the visitor closed the save dialog
      if (error instanceof Gone) return gone();
      $("link-viewer-error").textContent = "This photo could not be decrypted.";
    }
  }

  async function downloadZip() {
    let sink = null;
    const seen = new Set();
    try {
      sink = await SaveSink.saveSink("shared-photos.zip", "application/zip", save);
      const zip = new ZipStream(sink);
      for (const [i, photo] of manifest.photos.entries()) {
        setStatus(`Preparing the zip: ${i + 1} of ${manifest.photos.length}…`);
        await photoKey(photo); // the file name comes with the key
        let name = photo.fileName;
        for (let n = 2; seen.has(name); n++) name = `${n}-${photo.fileName}`;
        seen.add(name);
        await zip.add(name, originalChunks(photo));
      }
      await zip.finish();
      setStatus("The zip is ready.");
    } catch (error) {
      await dropped(sink);
      if (cancelled(error)) return setStatus("");
      if (error instanceof Gone) return gone();
      setStatus("A photo could not be decrypted; the zip was not made.");
    }
  }

  function guard(fn) {
    return (...args) =>
      fn(...args).catch((error) => {
        if (error instanceof Gone) gone();
        else setStatus("The photos could not be decrypted.");
      });
  }

  $("link-password").addEventListener("submit", guard(unlock));
  $("link-close").addEventListener("click", closeViewer);
  $("link-older").addEventListener("click", () => {
    stopSlideshow();
    openViewer(current + 1);
  });
  $("link-newer").addEventListener("click", () => {
    stopSlideshow();
    openViewer(current - 1);
  });
  $("link-slideshow").addEventListener("click", startSlideshow);
  $("link-download").addEventListener("click", downloadOne);
  $("link-zip").addEventListener("click", downloadZip);
  $("link-more").addEventListener("click", guard(showMore));
  document.addEventListener("keydown", (event) => {
    if ($("link-viewer").hidden) return;
    if (event.key === "ArrowRight") {
      stopSlideshow();
      openViewer(current + 1);
    } else if (event.key === "ArrowLeft") {
      stopSlideshow();
      openViewer(current - 1);
    } else if (event.key === "Escape") {
      closeViewer();
    }
  });
  // A key pasted into the address bar of this page is a same-document navigation: start over.
  window.addEventListener("hashchange", () => location.reload());
  guard(start)();
})();
