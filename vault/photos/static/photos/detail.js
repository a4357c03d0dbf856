// Photo page: arrow keys go to the newer/older photo, Escape back to the gallery; while the
// photo is still processing, the page reloads itself when it is done.
"use strict";

(() => {
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, textarea, select, button")) return;
    const link = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });

  // A video the browser cannot decode (no web rendition: the worker could not make one) shows
  // an empty player; say why, and where the video is.
  const player = document.querySelector("video.video-player");
  const unplayable = document.querySelector(".video-unplayable");
  if (player && unplayable) {
    const explain = () => { unplayable.hidden = false; };
    player.addEventListener("error", explain);
    if (player.error) explain();
  }

  const status = document.querySelector(".preview-status[data-state=pending], .preview-status[data-state=processing]");
  if (!status) return;
  async function poll() {
    try {
      const response = await fetch(`${status.dataset.statusUrl}?id=${status.dataset.photo}`, { headers: { Accept: "application/json" } });
      const entry = (await response.json()).photos[status.dataset.photo];
      if (entry && entry.state !== status.dataset.state && entry.state !== "processing") {
        window.location.reload();
        return;
      }
      const bar = status.querySelector("progress");
      if (entry && bar) bar.value = entry.progress;
    } catch (e) { /* next tick */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1500);
})();
