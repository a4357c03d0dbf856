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
