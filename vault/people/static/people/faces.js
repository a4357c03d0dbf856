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
