// People pages: selecting many faces at once. Without JavaScript the checkboxes work as they
// are; with it, a "Select all" button, a count, and action buttons that wait for a selection.
"use strict";

(() => {
  for (const form of document.querySelectorAll("form.face-select")) {
    const boxes = () => form.querySelectorAll("input[name=face]");
    const count = form.querySelector(".selection-count");
    const bar = form.querySelector(".face-actions");
    const all = document.createElement("button");
    all.type = "button";
    all.className = "button";
    bar.prepend(all);

    function refresh() {
      const n = [...boxes()].filter((box) => box.checked).length;
      const total = boxes().length;
      if (count) count.textContent = n ? `${n} selected` : "";
      all.textContent = n === total && total ? "Select none" : "Select all";
      form.querySelectorAll("[data-needs-selection]").forEach((button) => {
        button.disabled = n === 0;
      });
    }
    all.addEventListener("click", () => {
      const on = [...boxes()].some((box) => !box.checked);
      boxes().forEach((box) => { box.checked = on; });
      refresh();
    });
    form.addEventListener("change", refresh);
    refresh();
  }
})();

// Person pickers: the list holds the largest people; typing searches every named person
// (people:search decrypts names with the session's key, so the page never lists thousands).
(() => {
  for (const select of document.querySelectorAll("select[data-person-search]")) {
    const original = [...select.options].map((option) => [option.value, option.text]);
    const search = document.createElement("input");
    search.type = "search";
    search.className = "person-search";
    search.placeholder = "Type a name…";
    search.autocomplete = "off";
    search.setAttribute("aria-label", `Search people for: ${select.options[0].text}`);
    select.before(search);
    let timer = null;
    let asked = 0;

    function fill(rows) {
      const first = select.options[0];
      select.replaceChildren(first);
      for (const [value, text] of rows) select.add(new Option(text, value));
      if (rows.length && search.value.trim()) select.value = rows[0][0];
    }

    async function lookUp() {
      const q = search.value.trim();
      if (!q) { fill(original.slice(1)); return; }
      const number = ++asked;
      const url = new URL(select.dataset.personSearch, window.location.href);
      url.searchParams.set("q", q);
      if (select.dataset.exclude) url.searchParams.set("exclude", select.dataset.exclude);
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok || number !== asked) return;
        const data = await response.json();
        fill(data.people.map((person) => [person.id, person.label]));
        if (!data.people.length) select.options[0].text = `No one named like “${q}”`;
      } catch (error) {
        // Offline or signed out: the list keeps what it had; the form still posts.
      }
    }
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(lookUp, 150);
    });
    // Enter in the search box picks the first match instead of posting the form.
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); lookUp(); }
    });
  }
})();
