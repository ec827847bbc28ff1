// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function updateCounter(textarea) {
    const counter = document.querySelector('[data-counter-for="' + textarea.id + '"]');
    if (!counter) return;
    const max = parseInt(textarea.dataset.max || "0", 10);
    const length = textarea.value.length;
    counter.textContent = max ? length + " / " + max : String(length);
    counter.classList.toggle("counter--over", max > 0 && length > max);
  }

  function wire(root) {
    root.querySelectorAll("textarea[data-counter]").forEach(function (textarea) {
      updateCounter(textarea);
      textarea.addEventListener("input", function () { updateCounter(textarea); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    wire(event.target);
    const empty = document.getElementById("gallery-empty");
    if (empty && document.querySelector("#gallery .card")) empty.remove();
  });
})();
