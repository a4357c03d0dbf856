// Upload page: each file goes in its own request and gets its own row (uploading, then its
// processing until the photo is ready or failed, with the reason). A summary kept at the top of
// the screen counts the whole batch, and the page keeps the rows being uploaded in sight unless
// the user has scrolled away from them to read something else.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("id_photos");
  const dropzone = document.getElementById("dropzone");
  const list = document.getElementById("upload-list");
  const summary = document.getElementById("upload-summary");
  const counts = document.getElementById("upload-counts");
  const overall = document.getElementById("upload-total");
  const details = document.getElementById("upload-details");
  const galleryLink = document.getElementById("upload-gallery");
  const statusUrl = form.dataset.statusUrl;
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  // The words of the photo states, as the gallery shows them (Photo.State labels).
  const QUEUED = form.dataset.queued;
  const PARALLEL = 2;
  const STATUS_BATCH = 100; // ids per status request (the server reads at most 200)

  // Each row: { li, bar, result, slot, phase, sent, state, progress }. phase is "waiting" (not
  // uploaded yet), "sending", "stored", "duplicate" (already in the vault: its photo is
  // followed all the same) or "rejected" (not uploaded: refused, or the connection broke).
  // state and progress are the photo's, once the server has it.
  const rows = [];
  const queue = [];
  const following = new Map(); // photo id -> rows naming it (a batch may hold a file twice)
  let running = 0;
  let current = null; // the row whose upload started last
  let tracking = true; // whether the page follows the uploads (see keepInSight)

  function show(row, className, text, percent) {
    row.li.className = `upload-item ${className}`;
    row.result.textContent = text;
    row.bar.hidden = percent === null;
    if (percent !== null) row.bar.value = percent;
  }

  function item(file) {
    const li = document.createElement("li");
    const slot = document.createElement("span");
    slot.className = "upload-thumb-slot";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    name.title = file.name;
    const state = document.createElement("span");
    state.className = "upload-state";
    const bar = document.createElement("progress");
    bar.max = 100;
    const result = document.createElement("span");
    result.className = "upload-result";
    state.append(bar, result);
    li.append(slot, name, state);
    list.append(li); // in the order chosen, which is the order they are sent in
    const row = { li, bar, result, slot, phase: "waiting", sent: 0, state: null, progress: 0 };
    show(row, "waiting", "Not uploaded yet", null);
    rows.push(row);
    return row;
  }

  function follow(id, row) {
    if (!following.has(id)) following.set(id, []);
    following.get(id).push(row);
  }

  function received(row, outcome) {
    if (outcome.photo) {
      const link = document.createElement("a");
      link.className = "upload-open";
      link.href = `${outcome.photo}/`;
      link.textContent = "Open";
      row.li.append(link);
    }
    if (outcome.status === "stored") {
      row.phase = "stored";
      row.state = "pending";
      show(row, "pending", QUEUED, null);
      follow(outcome.photo, row);
    } else if (outcome.status === "duplicate" && outcome.photo) {
      row.phase = "duplicate";
      show(row, "duplicate", outcome.message, null);
      follow(outcome.photo, row); // counted as processed when that photo is
    } else {
      refused(row, outcome.message);
    }
  }

  // Not uploaded. When the file itself was not the problem (the connection, the session, the
  // server), a button sends it again.
  function refused(row, message, file = null) {
    row.phase = "rejected";
    show(row, "rejected", `Not uploaded: ${message}`, null);
    if (!file) return;
    const again = document.createElement("button");
    again.type = "button";
    again.className = "button upload-again";
    again.textContent = "Send again";
    again.addEventListener("click", () => {
      again.remove();
      row.phase = "waiting";
      row.sent = 0;
      show(row, "waiting", "Not uploaded yet", null);
      queue.push([file, row]);
      changed();
      pump();
    });
    row.li.append(again);
  }

  // Big files (videos) go up resumably (tus 1.0 core, vault/photos/resumable.py), in pieces of
  // PIECE bytes: a broken piece is retried from the offset the server reports, and the upload's
  // address is remembered per file (name, size, date) so that a reloaded page resumes it.
  // Our own small client: tus-js-client could not be fetched from npm here.
  const RESUMABLE_FROM = Number(form.dataset.resumableFrom);
  const PIECE = Number(form.dataset.resumablePiece);
  const RETRIES = 6;
  const tusHeaders = { "Tus-Resumable": "1.0.0", "X-CSRFToken": token };

  function pause(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  async function serverOffset(url) {
    const response = await fetch(url, { method: "HEAD", headers: tusHeaders, credentials: "same-origin" });
    if (!response.ok) return null;
    return Number(response.headers.get("Upload-Offset"));
  }

  async function createUpload(file, batch) {
    const name = btoa(unescape(encodeURIComponent(file.name)));
    const metadata = `filename ${name},batch ${btoa(batch)}`;
    const response = await fetch(form.dataset.resumableUrl, {
      method: "POST", credentials: "same-origin",
      headers: { ...tusHeaders, "Upload-Length": String(file.size), "Upload-Metadata": metadata },
    });
    if (response.status === 201) return response.headers.get("Location");
    let message = `The server could not take it (error ${response.status}).`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }

  function patch(url, file, offset, row) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PATCH", url);
      for (const [name, value] of Object.entries(tusHeaders)) xhr.setRequestHeader(name, value);
      xhr.setRequestHeader("Upload-Offset", String(offset));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.upload.addEventListener("progress", (event) => {
        row.sent = (offset + event.loaded) / file.size;
        const percent = Math.round(100 * row.sent);
        show(row, "sending", `Uploading ${percent}%`, percent);
        changed();
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 204) resolve(Number(xhr.getResponseHeader("Upload-Offset")));
        else reject(new Error(`error ${xhr.status}`));
      });
      xhr.addEventListener("error", () => reject(new Error("connection")));
      xhr.send(file.slice(offset, Math.min(file.size, offset + PIECE)));
    });
  }

  async function sendResumable(file, row) {
    const key = `spv-upload:${file.name}:${file.size}:${file.lastModified}`;
    row.phase = "sending";
    show(row, "sending", "Uploading 0%", 0);
    keepInSight(row);
    try {
      let url = localStorage.getItem(key);
      let offset = url ? await serverOffset(url) : null;
      if (offset === null) {
        url = await createUpload(file, row.batch);
        localStorage.setItem(key, url);
        offset = 0;
      }
      let failures = 0;
      while (offset < file.size) {
        try {
          offset = await patch(url, file, offset, row);
          failures = 0;
        } catch (error) {
          failures += 1;
          if (failures > RETRIES) throw new Error("The connection keeps breaking; send it again to resume.");
          show(row, "sending", "Connection lost, resuming…", Math.round(100 * row.sent));
          await pause(500 * 2 ** failures);
          const known = await serverOffset(url).catch(() => null);
          if (known !== null) offset = known;
        }
      }
      const state = await (await fetch(url, { headers: tusHeaders, credentials: "same-origin" })).json();
      localStorage.removeItem(key);
      received(row, state.outcome);
    } catch (error) {
      refused(row, error.message || "The upload failed.", file);
    }
    done();
  }

  function send(file, row) {
    if (file.size >= RESUMABLE_FROM) {
      sendResumable(file, row);
      return;
    }
    const data = new FormData();
    data.append("csrfmiddlewaretoken", token);
    data.append("batch", row.batch);
    data.append("photos", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    row.phase = "sending";
    show(row, "sending", "Uploading 0%", 0);
    keepInSight(row);
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      row.sent = event.loaded / event.total;
      const percent = Math.round(100 * row.sent);
      show(row, "sending", `Uploading ${percent}%`, percent);
      changed();
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body && body.files && body.files.length) {
        received(row, body.files[0]);
      } else if (body && body.error) {
        refused(row, body.error);
      } else if (xhr.responseURL && xhr.responseURL.includes("/accounts/login")) {
        refused(row, "Your session has ended. Sign in again (in another tab), then send it again.", file);
      } else {
        refused(row, `The server could not take it (error ${xhr.status}).`, file);
      }
      done();
    });
    xhr.addEventListener("error", () => {
      refused(row, "The connection broke during the upload.", file);
      done();
    });
    xhr.send(data);
  }

  function done() {
    running -= 1;
    pump();
    changed();
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const [file, row] = queue.shift();
      running += 1;
      send(file, row);
    }
  }

  // The files chosen together are one batch: an iPhone photo and its video (a Live Photo) in
  // the same batch become one item (vault/photos/live_photos.py). A random id, sent with each.
  function newBatch() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function add(files) {
    if (!files || !files.length) return;
    const batch = newBatch();
    for (const file of files) {
      const row = item(file);
      row.batch = batch;
      queue.push([file, row]);
    }
    tracking = true; // files just chosen: show them going up, wherever the last batch was
    summary.hidden = false;
    changed();
    pump();
  }

  // The summary: "n of N uploaded, m processed", a bar for the whole batch (each file counts
  // half for its upload and half for its processing), and what needs the user's eye.
  let drawing = false;
  function changed() {
    if (drawing) return;
    drawing = true;
    requestAnimationFrame(() => {
      drawing = false;
      draw();
    });
  }

  function draw() {
    let uploaded = 0, processed = 0, notUploaded = 0, failed = 0, duplicates = 0, waiting = 0;
    let units = 0;
    for (const row of rows) {
      if (row.phase === "waiting") {
        waiting += 1;
      } else if (row.phase === "sending") {
        waiting += 1;
        units += row.sent;
      } else if (row.phase === "rejected") {
        notUploaded += 1;
        units += 2;
      } else {
        uploaded += 1;
        if (row.phase === "duplicate") duplicates += 1;
        if (["ready", "failed", "missing"].includes(row.state)) {
          processed += 1;
          units += 2;
          if (row.phase === "stored" && row.state !== "ready") failed += 1;
        } else {
          units += 1 + (row.state === "processing" ? row.progress / 100 : 0);
        }
      }
    }
    counts.textContent = `${uploaded} of ${rows.length} uploaded, ${processed} processed`;
    overall.value = rows.length ? Math.floor((100 * units) / (2 * rows.length)) : 0;
    const notes = [];
    if (notUploaded) notes.push(`${notUploaded} not uploaded`);
    if (failed) notes.push(`${failed} failed`);
    if (duplicates) notes.push(`${duplicates} already in your vault`);
    const finished = !waiting && processed === uploaded;
    let text;
    if (finished) {
      text = notes.length ? `Done. ${notes.join(", ")}: see below.` : "Done.";
    } else if (!waiting) {
      text = "All sent: processing goes on in the vault even if you leave this page.";
      if (notes.length) text += ` ${notes.join(", ")}.`;
    } else {
      text = notes.length ? `${notes.join(", ")}.` : "Keep this page open until every photo is uploaded.";
    }
    details.textContent = text;
    galleryLink.hidden = !(finished && uploaded);
    summary.classList.toggle("done", finished);
  }

  // Keeping the rows being uploaded in sight: the page scrolls to each row as its upload starts,
  // as long as the user can see the row before it. Once they scroll away (to read a reason
  // further up, say) the page stays where they put it, until they scroll back to the uploads.
  function visibleTop() {
    return Math.max(0, summary.getBoundingClientRect().bottom);
  }
  function partlyInSight(element) {
    const box = element.getBoundingClientRect();
    return box.bottom > visibleTop() && box.top < window.innerHeight;
  }
  function whollyInSight(element) {
    const box = element.getBoundingClientRect();
    return box.top >= visibleTop() && box.bottom <= window.innerHeight;
  }
  function keepInSight(row) {
    current = row;
    if (tracking && !whollyInSight(row.li)) row.li.scrollIntoView({ block: "nearest" });
  }
  window.addEventListener("scroll", () => {
    if (current) tracking = partlyInSight(current.li);
  }, { passive: true });

  // Processing: the status of every photo still followed, every second.
  function apply(id, entry) {
    const named = following.get(id);
    if (!named) return;
    const terminal = ["ready", "failed", "missing"].includes(entry.state);
    for (const row of named) {
      row.state = entry.state;
      row.progress = entry.progress || 0;
      // A Live Photo's video answers with its item (the still): "Open" goes there.
      const open = row.li.querySelector(".upload-open");
      if (open && entry.url) open.href = entry.url;
      if (entry.state === "ready" && entry.thumb && !row.slot.firstChild) {
        const img = document.createElement("img");
        img.src = entry.thumb;
        img.alt = "";
        img.className = "upload-thumb";
        row.slot.append(img);
      }
      if (row.phase !== "stored") continue; // a duplicate keeps saying so
      if (entry.state === "ready") {
        show(row, "ready", entry.label, null);
      } else if (terminal) {
        show(row, "failed", entry.reason ? `${entry.label}: ${entry.reason}` : entry.label, null);
      } else if (entry.state === "processing") {
        show(row, "processing", `${entry.label} ${row.progress}%`, row.progress);
      } else {
        show(row, "pending", entry.label, null);
      }
    }
    if (terminal) following.delete(id);
  }

  async function poll() {
    const ids = [...following.keys()];
    for (let start = 0; start < ids.length; start += STATUS_BATCH) {
      const params = new URLSearchParams();
      for (const id of ids.slice(start, start + STATUS_BATCH)) params.append("id", id);
      try {
        const response = await fetch(`${statusUrl}?${params}`, { headers: { Accept: "application/json" } });
        if (!response.ok) continue;
        const body = await response.json();
        for (const [id, entry] of Object.entries(body.photos)) apply(id, entry);
      } catch (e) { /* a missed poll is retried on the next tick */ }
    }
    if (ids.length) changed();
    setTimeout(poll, 1000);
  }

  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  // Files chosen before this script ran (a slow page load) fired their change event unheard.
  if (input.files && input.files.length) {
    add(input.files);
    input.value = "";
  }
  for (const name of ["dragenter", "dragover"]) {
    dropzone.addEventListener(name, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    dropzone.addEventListener(name, () => dropzone.classList.remove("over"));
  }
  // A file dropped beside the drop zone is uploaded too, instead of the browser leaving the
  // page to show it (and dropping the uploads under way).
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    add(event.dataTransfer.files);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add(input.files);
  });
  // Files not sent yet are lost if the page goes away; processing is not (it runs in the vault).
  window.addEventListener("beforeunload", (event) => {
    if (running || queue.length) event.preventDefault();
  });
  poll();
})();
