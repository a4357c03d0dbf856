// Sign-in code step: "Send a new code" stays disabled until the server would accept it,
// counting down on its label. Without scripts the button always works and the server says
// when to ask again.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector("button[data-ready-in]");
  if (!button) return;
  const label = button.textContent;
  // A deadline, not a count of ticks: timers in background tabs run late.
  const deadline = Date.now() + Number(button.dataset.readyIn) * 1000;
  const tick = () => {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.disabled = true;
    button.textContent = left >= 120 ? `${label} (${Math.ceil(left / 60)} min)` : `${label} (${left} s)`;
    setTimeout(tick, 1000);
  };
  tick();
});
