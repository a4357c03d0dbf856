// Upload page: each file goes in its own request, with its own progress bar and result, then
// its processing is followed until the photo is ready (or failed, with the reason).
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("id_photos");
  const dropzone = document.getElementById("dropzone");
  const list = document.getElementById("upload-list");
  const statusUrl = form.dataset.statusUrl;
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const queue = [];
  const following = new Map(); // photo id -> list item
  let running = 0;
  const PARALLEL = 2;

  function item(file) {
    const li = document.createElement("li");
    li.className = "upload-item waiting";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const result = document.createElement("span");
    result.className = "upload-result";
    result.textContent = "Waiting…";
    li.append(name, bar, result);
    list.prepend(li);
    return { li, bar, result };
  }

  function finish(row, status, message) {
    row.li.className = `upload-item ${status}`;
    row.result.textContent = message;
    if (status !== "stored") row.bar.remove();
  }

  function send(file, row) {
    const data = new FormData();
    data.append("csrfmiddlewaretoken", token);
    data.append("photos", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) row.bar.value = Math.round((100 * event.loaded) / event.total);
    });
    row.li.className = "upload-item sending";
    row.result.textContent = "Uploading…";
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body && body.files && body.files.length) {
        const outcome = body.files[0];
        finish(row, outcome.status, outcome.message);
        if (outcome.photo) {
          const link = document.createElement("a");
          link.href = `${outcome.photo}/`;
          link.textContent = "Open";
          row.li.append(link);
          if (outcome.status === "stored") {
            row.bar.value = 0;
            row.result.textContent = "Stored, encrypted. Waiting to be processed…";
            following.set(outcome.photo, row);
          }
        }
      } else if (body && body.error) {
        finish(row, "rejected", body.error);
      } else if (xhr.responseURL && xhr.responseURL.includes("/accounts/login")) {
        finish(row, "rejected", "Your session has ended. Sign in again, then send this file again.");
      } else {
        finish(row, "rejected", `The server refused the upload (${xhr.status}). Try again.`);
      }
      done();
    });
    xhr.addEventListener("error", () => {
      finish(row, "rejected", "The connection broke during the upload. Try again.");
      done();
    });
    xhr.send(data);
  }

  function done() {
    running -= 1;
    pump();
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const [file, row] = queue.shift();
      running += 1;
      send(file, row);
    }
  }

  function add(files) {
    for (const file of files) queue.push([file, item(file)]);
    pump();
  }

  async function poll() {
    if (following.size) {
      const params = new URLSearchParams();
      for (const id of following.keys()) params.append("id", id);
      try {
        const response = await fetch(`${statusUrl}?${params}`, { headers: { Accept: "application/json" } });
        const body = await response.json();
        for (const [id, entry] of Object.entries(body.photos)) {
          const row = following.get(id);
          if (!row) continue;
          if (entry.state === "ready") {
            finish(row, "ready", "Ready.");
            if (entry.thumb) {
              const img = document.createElement("img");
              img.src = entry.thumb;
              img.alt = "";
              img.className = "upload-thumb";
              row.li.prepend(img);
            }
            following.delete(id);
          } else if (entry.state === "failed" || entry.state === "missing") {
            finish(row, "failed", entry.reason || entry.label);
            following.delete(id);
          } else {
            row.bar.value = entry.progress;
            row.result.textContent = entry.state === "processing" ? `Processing… ${entry.progress}%` : "Waiting to be processed…";
          }
        }
      } catch (e) { /* a missed poll is retried on the next tick */ }
    }
    setTimeout(poll, 1000);
  }

  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    dropzone.addEventListener(name, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    dropzone.addEventListener(name, () => dropzone.classList.remove("over"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    add(event.dataTransfer.files);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add(input.files);
  });
  poll();
})();
