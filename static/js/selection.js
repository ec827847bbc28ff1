// Selecting many pieces in the gallery or on a board: tick boxes, Shift+click for a range, x for
// the focused card, Esc to clear; the confirmation opens in a dialog. Without this file the
// boxes and the confirmation page still work.
(function () {
  "use strict";

  let last = null;  // the box clicked last, where a Shift+click range starts

  function boxes() {
    return Array.from(document.querySelectorAll("input[data-select]"));
  }

  function update() {
    const form = document.querySelector("[data-selection]");
    if (!form) return;
    const all = boxes();
    let count = 0;
    all.forEach(function (box) {
      const card = box.closest("[data-card]");
      if (card) card.classList.toggle("card--selected", box.checked);
      if (box.checked) count++;
    });
    form.classList.toggle("selection--active", count > 0);
    form.querySelector("[data-selection-clear]").hidden = count === 0;
    form.querySelector("[data-selection-count]").textContent = count
      ? count + (count === 1 ? " piece selected" : " pieces selected")
      : "Tick pieces to act on several at once.";
  }

  document.addEventListener("click", function (event) {
    const box = event.target.closest("input[data-select]");
    if (box) {
      if (event.shiftKey && last && last !== box && document.contains(last)) {
        const all = boxes();
        const from = all.indexOf(last);
        const to = all.indexOf(box);
        all.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) {
          each.checked = box.checked;
        });
      }
      last = box;
      update();
      return;
    }
    if (event.target.closest("[data-selection-clear]")) {
      boxes().forEach(function (each) { each.checked = false; });
      update();
      return;
    }
    const cancel = event.target.closest("[data-dialog-close]");
    if (cancel && cancel.closest("dialog")) {
      event.preventDefault();
      cancel.closest("dialog").close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable], dialog")) return;
    if (event.key === "x") {
      const card = document.activeElement && document.activeElement.closest("[data-card]");
      const box = card && card.querySelector("input[data-select]");
      if (!box) return;
      box.checked = !box.checked;
      last = box;
      update();
      event.preventDefault();
    } else if (event.key === "Escape" && boxes().some(function (box) { return box.checked; })) {
      boxes().forEach(function (each) { each.checked = false; });
      update();
      event.preventDefault();
    }
  });

  // The confirmation arrives in the dialog; a download leaves the page where it is.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "selection-dialog-body") return;
    const dialog = document.getElementById("selection-dialog");
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("select, input[type=text], button[type=submit]");
    if (first) first.focus();
  });
  document.addEventListener("submit", function (event) {
    if (!event.target.matches("[data-selection-confirm][data-download]")) return;
    const dialog = event.target.closest("dialog");
    if (dialog) setTimeout(function () { dialog.close(); }, 0);
  });

  document.addEventListener("DOMContentLoaded", update);
  document.addEventListener("htmx:afterSettle", update);
})();
