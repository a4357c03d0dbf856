// Live items (a Live Photo, a motion photo): the moving part plays over the still while the
// pointer is on it (desktop), or from a click or tap on the still or the Live badge (phones,
// which have no hover), and the still comes back when it ends.
"use strict";

(() => {
  for (const live of document.querySelectorAll("[data-live]")) {
    const video = live.querySelector("video");
    const badge = live.querySelector(".live-badge");
    if (!video) continue;
    const start = () => {
      live.classList.add("playing");
      badge.setAttribute("aria-pressed", "true");
      video.currentTime = 0;
      video.play().catch(() => stop());
    };
    const stop = () => {
      live.classList.remove("playing");
      badge.setAttribute("aria-pressed", "false");
      video.pause();
    };
    live.addEventListener("pointerenter", (event) => { if (event.pointerType === "mouse") start(); });
    live.addEventListener("pointerleave", (event) => { if (event.pointerType === "mouse") stop(); });
    live.addEventListener("click", (event) => {
      event.preventDefault();
      if (live.classList.contains("playing") && !video.paused) stop(); else start();
    });
    video.addEventListener("ended", stop);
  }
})();
