// The creation form's enhancements: upload progress, file counts for the option probe, the
// keyframe timeline and the reframe rectangle. The form works without this file.
(function () {
  "use strict";

  const FPS = 24;

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  // --- how many files each slot holds, so the server can grey out what they rule out ---
  function wireCounts(form) {
    form.querySelectorAll("[data-count-for]").forEach(function (counter) {
      const input = document.getElementById(counter.dataset.countFor);
      if (!input) return;
      input.addEventListener("change", function () {
        counter.value = String(input.files ? input.files.length : 0);
      });
    });
  }

  // --- upload progress ---
  function wireProgress(form) {
    const bar = form.querySelector(".upload-progress");
    if (!bar) return;
    function hasFiles() {
      return Array.from(form.querySelectorAll("input[type=file]")).some(function (input) {
        return input.files && input.files.length > 0;
      });
    }
    form.addEventListener("htmx:xhr:progress", function (event) {
      // Only the form's own submit carries files; the options check inside it bubbles its
      // progress up here too, and says nothing about an upload.
      if (event.target !== form || !hasFiles() || !event.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    });
  }

  // --- the keyframe timeline ---
  function wireTimeline(form) {
    const root = form.querySelector("[data-timeline]");
    if (!root) return;
    const strip = root.querySelector("[data-strip]");
    const rows = root.querySelector("[data-rows]");
    const template = root.querySelector("[data-empty-row]");
    const total = root.querySelector("input[name='kf-TOTAL_FORMS']");
    const addButton = root.querySelector("[data-add-keyframe]");
    let active = null;

    function lastFrame() {
      // The options are re-rendered by the server, so look the select up each time.
      const duration = form.querySelector("select[name='duration']");
      return duration && duration.value === "10s" ? 10 * FPS : 5 * FPS;
    }

    function liveRows() {
      return Array.from(rows.querySelectorAll("[data-row]")).filter(function (row) {
        const remove = row.querySelector("input[type=checkbox][name$='-DELETE']");
        return !(remove && remove.checked);
      });
    }

    function frameInput(row) {
      return row.querySelector("input[name$='-frame']");
    }

    function hasImage(row) {
      const file = row.querySelector("input[type=file]");
      const pick = row.querySelector("select");
      return (file && file.files && file.files.length > 0) || (pick && pick.value);
    }

    function notify() {
      document.body.dispatchEvent(new CustomEvent("lumaweb:timeline"));
    }

    function render() {
      strip.querySelectorAll("[data-marker]").forEach(function (marker) { marker.remove(); });
      const last = lastFrame();
      strip.querySelector("[data-scale]").textContent = "0 — " + last + " (" + last / FPS + " s)";
      liveRows().forEach(function (row, index) {
        const input = frameInput(row);
        if (!hasImage(row) || input.value === "") return;
        const frame = clamp(parseInt(input.value, 10) || 0, 0, last);
        const marker = document.createElement("button");
        marker.type = "button";
        marker.className = "timeline__marker" + (row === active ? " timeline__marker--active" : "");
        marker.dataset.marker = String(index);
        marker.textContent = String(index + 1);
        marker.title = "Keyframe " + (index + 1) + " at frame " + frame + " (arrows move it)";
        marker.style.left = (frame / last) * 100 + "%";
        const file = row.querySelector("input[type=file]");
        if (file && file.files && file.files[0]) {
          marker.style.backgroundImage = "url(" + URL.createObjectURL(file.files[0]) + ")";
        }
        marker.addEventListener("pointerdown", function (event) { startDrag(event, row); });
        marker.addEventListener("keydown", function (event) { nudge(event, row); });
        marker.addEventListener("focus", function () { active = row; });
        strip.appendChild(marker);
      });
    }

    function setFrame(row, frame) {
      frameInput(row).value = String(clamp(Math.round(frame), 0, lastFrame()));
      render();
      notify();
    }

    function frameAt(clientX) {
      const box = strip.getBoundingClientRect();
      return ((clientX - box.left) / box.width) * lastFrame();
    }

    function startDrag(event, row) {
      event.preventDefault();
      active = row;
      function move(moveEvent) { setFrame(row, frameAt(moveEvent.clientX)); }
      function stop() {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", stop);
      }
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", stop);
    }

    function nudge(event, row) {
      const step = event.shiftKey ? FPS : 1;
      const current = parseInt(frameInput(row).value, 10) || 0;
      if (event.key === "ArrowLeft") setFrame(row, current - step);
      else if (event.key === "ArrowRight") setFrame(row, current + step);
      else if (event.key === "Delete" || event.key === "Backspace") {
        row.querySelector("input[name$='-DELETE']").checked = true;
        row.hidden = true;
        render();
        notify();
      } else return;
      event.preventDefault();
      const marker = strip.querySelector("[data-marker='" + liveRows().indexOf(row) + "']");
      if (marker) marker.focus();
    }

    function addRow() {
      const index = parseInt(total.value, 10);
      if (liveRows().length >= 64) return null;
      const html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      const row = rows.lastElementChild;
      wireRow(row);
      active = row;
      return row;
    }

    function wireRow(row) {
      row.addEventListener("change", function () {
        if (hasImage(row) && frameInput(row).value === "") {
          // A new image lands after the last placed keyframe, or at 0.
          const placed = liveRows().map(function (r) { return parseInt(frameInput(r).value, 10); })
            .filter(function (f) { return !isNaN(f); });
          const next = placed.length ? Math.min(lastFrame(), Math.max.apply(null, placed) + FPS) : 0;
          frameInput(row).value = String(next);
        }
        active = row;
        render();
      });
    }

    rows.querySelectorAll("[data-row]").forEach(wireRow);
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      const row = addRow();
      if (row) row.querySelector("input[type=file]").focus();
    });
    strip.addEventListener("click", function (event) {
      if (event.target !== strip || !active) return;
      setFrame(active, frameAt(event.clientX));
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "duration") render();
    });
    render();
  }

  // --- the reframe rectangle ---
  function wireReframe(form) {
    const root = form.querySelector("[data-reframe]");
    if (!root) return;
    const canvas = root.querySelector("[data-canvas]");
    const rect = root.querySelector("[data-rect]");
    const handle = root.querySelector("[data-handle]");
    const chooses = root.querySelector("[data-model-chooses]");
    const inputs = {};
    ["x_norm", "y_norm", "w_norm", "h_norm"].forEach(function (name) {
      inputs[name] = form.querySelector("input[name='" + name + "']");
      inputs[name].step = "0.01";  // the numbers' arrow keys move by a hundredth of the frame
    });

    function value(name) { return parseFloat(inputs[name].value) || 0; }

    function set(x, y, w, h) {
      w = clamp(w, 0.05, 2);
      h = clamp(h, 0.05, 2);
      inputs.x_norm.value = clamp(x, -2, 2).toFixed(3);
      inputs.y_norm.value = clamp(y, -2, 2).toFixed(3);
      inputs.w_norm.value = w.toFixed(3);
      inputs.h_norm.value = h.toFixed(3);
      if (chooses.checked) chooses.checked = false;
      draw();
    }

    function draw() {
      const ratio = form.querySelector("select[name='aspect_ratio']");
      const parts = (ratio && ratio.value ? ratio.value : "16:9").split(":").map(Number);
      // Fit the target frame in a box, keeping its shape.
      const scale = Math.min(Math.min(root.clientWidth - 48, 480) / parts[0], 360 / parts[1]);
      canvas.style.width = Math.round(parts[0] * scale) + "px";
      canvas.style.height = Math.round(parts[1] * scale) + "px";
      rect.style.left = value("x_norm") * 100 + "%";
      rect.style.top = value("y_norm") * 100 + "%";
      rect.style.width = value("w_norm") * 100 + "%";
      rect.style.height = value("h_norm") * 100 + "%";
      root.classList.toggle("reframe--auto", chooses.checked);
    }

    function drag(event, resize) {
      event.preventDefault();
      event.stopPropagation();
      const box = canvas.getBoundingClientRect();
      const start = { x: event.clientX, y: event.clientY,
        values: [value("x_norm"), value("y_norm"), value("w_norm"), value("h_norm")] };
      function move(moveEvent) {
        const dx = (moveEvent.clientX - start.x) / box.width;
        const dy = (moveEvent.clientY - start.y) / box.height;
        const v = start.values;
        if (resize) set(v[0], v[1], v[2] + dx, v[3] + dy);
        else set(v[0] + dx, v[1] + dy, v[2], v[3]);
      }
      function stop() {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", stop);
      }
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", stop);
    }

    rect.addEventListener("pointerdown", function (event) { drag(event, false); });
    handle.addEventListener("pointerdown", function (event) { drag(event, true); });
    rect.addEventListener("keydown", function (event) {
      const step = 0.01;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      const delta = moves[event.key];
      if (!delta) return;
      event.preventDefault();
      if (event.shiftKey) set(value("x_norm"), value("y_norm"), value("w_norm") + delta[0], value("h_norm") + delta[1]);
      else set(value("x_norm") + delta[0], value("y_norm") + delta[1], value("w_norm"), value("h_norm"));
    });
    chooses.addEventListener("change", draw);
    Object.values(inputs).forEach(function (input) { input.addEventListener("input", draw); });
    form.addEventListener("change", function (event) {
      if (event.target.name === "aspect_ratio") draw();
    });
    draw();
  }

  // --- the options the server greys out: never let an older answer undo a newer choice ---
  function wireOptions(form) {
    let changes = 0;
    // Counted in the capture phase, before htmx's own listener sends the request.
    form.addEventListener("change", function () { changes += 1; }, true);
    document.body.addEventListener("lumaweb:timeline", function () { changes += 1; }, true);
    // The options live inside the form, so their htmx events reach it; a replaced form's
    // listeners go with it.
    form.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt.id === "options") event.detail.elt.dataset.asked = String(changes);
    });
    form.addEventListener("htmx:beforeSwap", function (event) {
      const options = event.detail.elt;
      if (options.id === "options" && options.dataset.asked !== String(changes)) {
        event.detail.shouldSwap = false;  // a newer request, with the newer choice, is queued
      }
    });
  }

  // --- after a refused submit, the keyboard starts at what was wrong ---
  function focusFirstProblem(form) {
    const wrong = form.querySelector("[aria-invalid='true']:not([type=hidden])") ||
      form.querySelector(".errors, .field__error");
    if (!wrong) return;
    if (!wrong.matches("input, select, textarea")) wrong.tabIndex = -1;
    wrong.focus();
  }

  function wire(root) {
    const form = root.id === "create-form" ? root : root.querySelector("#create-form");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "yes";
    focusFirstProblem(form);
    wireOptions(form);
    wireCounts(form);
    wireProgress(form);
    wireTimeline(form);
    wireReframe(form);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function () { wire(document); });
})();
