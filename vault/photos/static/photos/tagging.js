// Gallery: while the worker re-tags the vault's photos, the banner says how far it has come,
// re-read from the server every few seconds, until it is done.
"use strict";

(() => {
  const banner = document.getElementById("tagging-status");
  if (!banner) return;
  const EVERY = 3000;
  async function poll() {
    try {
      const response = await fetch(banner.dataset.url, { headers: { Accept: "application/json" } });
      // Signed out meanwhile (redirected to the sign-in page): stop asking.
      if (response.redirected || response.status === 401 || response.status === 403) return;
      if (response.ok) {
        const body = await response.json();
        if (!body.updating) {
          if (body.model) {
            banner.textContent = `All ${body.total} photos are tagged with ${body.model}. `;
            const reload = document.createElement("a");
            reload.href = window.location.href;
            reload.textContent = "Show the new tags";
            banner.append(reload);
          } else {
            banner.textContent = body.text;
          }
          return; // done (or the tagger went away): stop asking
        }
        banner.textContent = body.text;
      }
    } catch (e) { /* offline for a moment: ask again */ }
    setTimeout(poll, EVERY);
  }
  setTimeout(poll, EVERY);
})();
