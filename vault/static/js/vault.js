// Secure Photo Vault: behaviour shared by every page. Page scripts add their own file.
"use strict";

// Styles that only make sense with scripts (hidden checkboxes until "Select") key off this.
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
});
