// Gallery: selecting photos to delete or tag, loading more as the user scrolls, and swapping in
// thumbnails as pending photos become ready.
"use strict";

// The filters: always open on a screen wide enough for them. vault.css already shows them there
// without a script; opening the <details> as well keeps what assistive technology is told in step.
(() => {
  const box = document.getElementById("filter-box");
  if (box && window.matchMedia("(min-width: 641px) and (min-height: 541px)").matches) box.open = true;
})();

(() => {
  const gallery = document.getElementById("gallery");
  if (!gallery) return;
  const form = document.getElementById("selection");
  const toggle = document.getElementById("select-toggle");
  const count = document.getElementById("selection-count");
  const actions = document.getElementById("selection-actions");
  const statusUrl = gallery.dataset.statusUrl;

  function selected() {
    return form.querySelectorAll("input[name=photo]:checked").length;
  }
  function refresh() {
    const n = selected();
    count.textContent = form.classList.contains("selecting") ? `${n} selected` : "";
    actions.hidden = !form.classList.contains("selecting");
    actions.querySelectorAll("button").forEach((button) => { button.disabled = n === 0; });
  }
  toggle.addEventListener("click", () => {
    const on = form.classList.toggle("selecting");
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = on ? "Cancel" : "Select";
    if (!on) form.querySelectorAll("input[name=photo]").forEach((box) => { box.checked = false; });
    refresh();
  });
  gallery.addEventListener("click", (event) => {
    if (!form.classList.contains("selecting")) return;
    const tile = event.target.closest(".tile");
    if (!tile || event.target.matches("input")) return;
    event.preventDefault();
    const box = tile.querySelector("input[name=photo]");
    if (!box) return; // a photo shared with the user: not theirs to select
    box.checked = !box.checked;
    refresh();
  });
  gallery.addEventListener("change", refresh);
  refresh();

  // Loading more: the "Load more" link works without JavaScript; with it, it loads itself.
  let loading = false;
  async function loadMore(link) {
    if (loading) return;
    loading = true;
    let holder;
    try {
      const response = await fetch(link.href, { headers: { "X-Vault-Partial": "1" } });
      if (!response.ok) return; // the link stays: scrolling or a click tries again
      holder = document.createElement("div");
      holder.innerHTML = await response.text();
    } catch {
      return; // offline for a moment: same
    } finally {
      loading = false;
    }
    link.closest(".more").remove();
    for (const section of holder.querySelectorAll("section.month")) {
      const sections = gallery.querySelectorAll("section.month");
      const last = sections[sections.length - 1];
      if (last && last.dataset.month === section.dataset.month) {
        last.querySelector(".grid").append(...section.querySelectorAll(".tile"));
      } else {
        gallery.append(section);
      }
    }
    const more = holder.querySelector(".more");
    if (more) gallery.append(more);
    watchMore();
    followPending();
  }
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
        for (const entry of entries) if (entry.isIntersecting) loadMore(entry.target);
      }, { rootMargin: "600px" })
    : null;
  function watchMore() {
    const link = gallery.querySelector("[data-more]");
    if (!link) return;
    link.addEventListener("click", (event) => { event.preventDefault(); loadMore(link); });
    if (observer) observer.observe(link);
  }
  watchMore();

  // Pending photos: poll their state and show the thumbnail when ready.
  let timer = null;
  function followPending() {
    if (!timer) timer = setTimeout(poll, 1500);
  }
  async function poll() {
    timer = null;
    const tiles = gallery.querySelectorAll(".tile[data-state=pending], .tile[data-state=processing]");
    if (!tiles.length) return;
    const params = new URLSearchParams();
    tiles.forEach((tile) => params.append("id", tile.dataset.photo));
    try {
      const response = await fetch(`${statusUrl}?${params}`, { headers: { Accept: "application/json" } });
      const body = await response.json();
      tiles.forEach((tile) => {
        const entry = body.photos[tile.dataset.photo];
        if (!entry) return;
        tile.dataset.state = entry.state;
        tile.className = `tile state-${entry.state}`;
        const link = tile.querySelector(".tile-link");
        if (entry.state === "ready") {
          const img = document.createElement("img");
          img.src = entry.thumb;
          img.alt = "Photo";
          link.replaceChildren(img);
        } else if (entry.state === "failed") {
          link.innerHTML = '<span class="tile-status"><span class="tile-label"></span><span class="tile-reason"></span></span>';
          link.querySelector(".tile-label").textContent = entry.label;
          link.querySelector(".tile-reason").textContent = entry.reason;
        } else {
          const label = tile.querySelector(".tile-label");
          const bar = tile.querySelector("progress");
          if (label) label.textContent = entry.label;
          if (bar) bar.value = entry.progress;
        }
      });
    } catch (e) { /* retried below */ }
    followPending();
  }
  followPending();
})();
