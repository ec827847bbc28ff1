// The creation form's enhancements: upload progress, file counts for the option probe, the
// keyframe timeline, the reframe rectangle, the gallery picker with each slot's preview, drag
// and drop and paste of files, focus on what a refused submit found wrong, the words kept for
// Back and taken to another mode, and Ctrl+Enter. The form works without this file.
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
    // Edit video's grid is its source's frames: an upload's length once the browser has read
    // it, a kept or picked source's as the page says, else the longest source the API takes.
    let sourceFrames = parseInt(root.dataset.sourceFrames, 10) || null;

    function lastFrame() {
      if (root.dataset.lastFrame) return sourceFrames || parseInt(root.dataset.lastFrame, 10);
      // The options are re-rendered by the server, so look the select up each time.
      const duration = form.querySelector("select[name='duration']");
      return duration && duration.value === "10s" ? 10 * FPS : 5 * FPS;
    }

    let reading = null;  // the newest file's probe: an older one's answer is not used

    function framesOf(seconds) {
      const frames = Math.floor(seconds * FPS);
      return frames > 0 ? Math.min(frames, parseInt(root.dataset.lastFrame, 10)) : null;
    }

    // A picked piece's length comes with its option (the picker's); an upload's is read here.
    function readSource(file, seconds) {
      sourceFrames = seconds ? framesOf(parseFloat(seconds)) : null;
      reading = null;
      render();
      if (!file) return;
      const probe = document.createElement("video");
      reading = probe;
      probe.preload = "metadata";
      probe.addEventListener("loadedmetadata", function () {
        URL.revokeObjectURL(probe.src);
        if (reading !== probe) return;
        sourceFrames = framesOf(probe.duration);
        render();
      });
      probe.addEventListener("error", function () { URL.revokeObjectURL(probe.src); });
      probe.src = URL.createObjectURL(file);
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
      const kept = row.querySelector("input[type=checkbox][name$='-kept']:checked");
      return (file && file.files && file.files.length > 0) || (pick && pick.value) || Boolean(kept);
    }

    function notify() {
      document.body.dispatchEvent(new CustomEvent("lumaweb:timeline"));
    }

    function render() {
      strip.querySelectorAll("[data-marker]").forEach(function (marker) { marker.remove(); });
      const last = lastFrame();
      const seconds = Math.round((last / FPS) * 10) / 10;
      strip.querySelector("[data-scale]").textContent = "0 — " + last + " (" + seconds + " s)";
      liveRows().forEach(function (row, index) {
        const input = frameInput(row);
        if (!hasImage(row) || input.value === "") return;
        const typed = parseInt(input.value, 10) || 0;
        const frame = clamp(typed, 0, last);
        const marker = document.createElement("button");
        marker.type = "button";
        marker.className = "timeline__marker" + (row === active ? " timeline__marker--active" : "") +
          (typed !== frame ? " timeline__marker--outside" : "");
        marker.dataset.marker = String(index);
        marker.textContent = String(index + 1);
        marker.title = typed !== frame
          ? "Keyframe " + (index + 1) + " at frame " + typed + ": outside 0 to " + last + " (arrows move it)"
          : "Keyframe " + (index + 1) + " at frame " + frame + " (arrows move it)";
        marker.style.left = (frame / last) * 100 + "%";
        const file = row.querySelector("input[type=file]");
        const pick = row.querySelector("select");
        const thumb = pick && pick.selectedOptions[0] && pick.selectedOptions[0].dataset.thumb;
        if (file && file.files && file.files[0]) {
          marker.style.backgroundImage = "url(" + URL.createObjectURL(file.files[0]) + ")";
        } else if (thumb) {
          marker.style.backgroundImage = "url(" + thumb + ")";
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
      // A frame being typed moves its marker as it is typed; the rest waits for the change.
      frameInput(row).addEventListener("input", render);
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

    // A draft's keyframes are put back through these (restoreTimeline).
    root.timeline = { rows: liveRows, add: addRow, frameInput: frameInput, hasImage: hasImage };
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
      else if (root.dataset.lastFrame && ["source", "source_pick"].includes(event.target.name)) {
        const file = form.querySelector("input[type=file][name='source']");
        const pick = form.querySelector("select[name='source_pick']");
        const chosen = pick && pick.value && pick.selectedOptions[0];
        if (chosen) readSource(null, chosen.dataset.seconds);
        else readSource(file && file.files && file.files[0]);
      }
    });
    render();
  }

  // --- the reframe rectangle: the source's picture, its shape kept, snapping to the frame ---
  const SNAP = 0.03;  // an edge this close (a fraction of the frame) to the frame's edge meets it

  function wireReframe(form) {
    const root = form.querySelector("[data-reframe]");
    if (!root) return;
    const canvas = root.querySelector("[data-canvas]");
    const rect = root.querySelector("[data-rect]");
    const handle = root.querySelector("[data-handle]");
    const chooses = root.querySelector("[data-model-chooses]");
    const inputs = {};
    // Whether a person gave the position (moved or typed it here, or a remix's or a refused
    // form's, which the model does not place): only then is it kept when the picture arrives.
    let placed = !chooses.checked;
    ["x_norm", "y_norm", "w_norm", "h_norm"].forEach(function (name) {
      inputs[name] = form.querySelector("input[name='" + name + "']");
      inputs[name].step = "0.01";  // the numbers' arrow keys move by a hundredth of the frame
      inputs[name].addEventListener("input", function () { placed = true; });
    });
    let aspect = null;  // the source's width / height, once its picture is known

    function value(name) { return parseFloat(inputs[name].value) || 0; }

    function frame() {
      const ratio = form.querySelector("select[name='aspect_ratio']");
      return (ratio && ratio.value ? ratio.value : "9:16").split(":").map(Number);
    }

    // The height, as a fraction of the frame, that keeps the source's shape at width `w`.
    function heightFor(w) {
      const parts = frame();
      return aspect ? (w * parts[0]) / (parts[1] * aspect) : null;
    }

    function snap(start, size) {
      if (Math.abs(start) < SNAP) return 0;
      if (Math.abs(start + size - 1) < SNAP) return 1 - size;
      return start;
    }

    function write(x, y, w, h) {
      inputs.x_norm.value = clamp(x, -2, 2).toFixed(3);
      inputs.y_norm.value = clamp(y, -2, 2).toFixed(3);
      inputs.w_norm.value = clamp(w, 0.05, 2).toFixed(3);
      inputs.h_norm.value = clamp(h, 0.05, 2).toFixed(3);
      draw();
    }

    // A move or resize by the person: the source's shape is kept, and a drag snaps to the edges.
    function set(x, y, w, h, how) {
      w = clamp(w, 0.05, 2);
      if (how === "resize" && Math.abs(x + w - 1) < SNAP) w = 1 - x;
      const locked = heightFor(w);
      if (locked !== null) {
        h = locked;
        if (h > 2) { w = (w * 2) / h; h = 2; }
      }
      h = clamp(h, 0.05, 2);
      if (how === "move") { x = snap(x, w); y = snap(y, h); }
      if (chooses.checked) chooses.checked = false;
      placed = true;
      write(x, y, w, h);
    }

    function draw() {
      const parts = frame();
      // Fit the target frame in the editor, keeping its shape; the stage around it shows (and
      // clips) what overhangs, so the rectangle never covers the fields around it.
      const room = Math.min(root.clientWidth - 96, 480);
      const scale = Math.min(room / parts[0], 360 / parts[1]);
      canvas.style.width = Math.round(parts[0] * scale) + "px";
      canvas.style.height = Math.round(parts[1] * scale) + "px";
      rect.style.left = value("x_norm") * 100 + "%";
      rect.style.top = value("y_norm") * 100 + "%";
      rect.style.width = value("w_norm") * 100 + "%";
      rect.style.height = value("h_norm") * 100 + "%";
      root.classList.toggle("reframe--auto", chooses.checked);
    }

    // The source's picture inside the rectangle: an uploaded video's first frame, or a picked
    // piece's thumbnail; its shape becomes the rectangle's.
    function showSource(fresh) {
      const old = rect.querySelector("[data-picture]");
      if (old) old.remove();
      const file = form.querySelector("input[type=file][name='source']");
      const pick = form.querySelector("select[name='source_pick']");
      const option = pick && pick.selectedOptions[0];
      let picture = null;
      if (file && file.files && file.files[0]) {
        picture = document.createElement("video");
        picture.muted = true;
        picture.playsInline = true;
        picture.preload = "auto";
        picture.addEventListener("loadedmetadata", function () {
          shaped(picture.videoWidth, picture.videoHeight, fresh);
        });
        picture.src = URL.createObjectURL(file.files[0]);
      } else if (option && option.value && option.dataset.thumb) {
        picture = new Image();
        picture.alt = "";
        picture.addEventListener("load", function () {
          shaped(picture.naturalWidth, picture.naturalHeight, fresh);
        });
        picture.src = option.dataset.thumb;
      }
      if (!picture) return;
      picture.className = "reframe__picture";
      picture.dataset.picture = "";
      rect.prepend(picture);
    }

    // A newly chosen source, or one no person has placed, is fitted; a position a person gave
    // only takes the source's shape.
    function shaped(width, height, fresh) {
      if (!width || !height) return;
      aspect = width / height;
      if (fresh === true || !placed) fit();
      else reshape();
    }

    // The source's shape kept when its width is typed or its picture becomes known: a placed
    // position stays where it was.
    function reshape() {
      const h = heightFor(value("w_norm"));
      if (h === null) return draw();
      write(value("x_norm"), value("y_norm"), value("w_norm"), h);
    }

    // A new frame or a newly chosen source: the source whole in the frame, as large as fits and
    // centred, for the person to move from (not a choice of position: "let the model place it"
    // stays as it was).
    function fit() {
      let w = 1;
      let h = heightFor(w);
      if (h === null) return draw();
      if (h > 1) { w = 1 / h; h = 1; }
      placed = false;
      write((1 - w) / 2, (1 - h) / 2, w, h);
    }

    function drag(event, how) {
      event.preventDefault();
      event.stopPropagation();
      const box = canvas.getBoundingClientRect();
      const start = { x: event.clientX, y: event.clientY,
        values: [value("x_norm"), value("y_norm"), value("w_norm"), value("h_norm")] };
      function move(moveEvent) {
        const dx = (moveEvent.clientX - start.x) / box.width;
        const dy = (moveEvent.clientY - start.y) / box.height;
        const v = start.values;
        if (how === "resize") set(v[0], v[1], v[2] + dx, v[3] + dy, how);
        else set(v[0] + dx, v[1] + dy, v[2], v[3], how);
      }
      function stop() {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", stop);
      }
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", stop);
    }

    rect.addEventListener("pointerdown", function (event) { drag(event, "move"); });
    handle.addEventListener("pointerdown", function (event) { drag(event, "resize"); });
    rect.addEventListener("keydown", function (event) {
      const step = 0.01;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      const delta = moves[event.key];
      if (!delta) return;
      event.preventDefault();
      const x = value("x_norm"), y = value("y_norm"), w = value("w_norm"), h = value("h_norm");
      if (event.shiftKey) set(x, y, w + delta[0], h + delta[1], "key");
      else set(x + delta[0], y + delta[1], w, h, "key");
    });
    chooses.addEventListener("change", draw);
    // Typed numbers are taken as typed; a typed width or height brings the other along.
    inputs.x_norm.addEventListener("input", draw);
    inputs.y_norm.addEventListener("input", draw);
    inputs.w_norm.addEventListener("input", reshape);
    inputs.h_norm.addEventListener("input", function () {
      const parts = frame();
      if (aspect) inputs.w_norm.value = ((value("h_norm") * parts[1] * aspect) / parts[0]).toFixed(3);
      draw();
    });
    form.addEventListener("change", function (event) {
      const name = event.target.name;
      if (name === "aspect_ratio") fit();
      if (name === "source" || name === "source_pick") showSource(true);
    });
    form.addEventListener("lumaweb:thumbs", showSource);
    window.addEventListener("resize", draw);
    showSource();
    draw();
  }

  // --- the options the server greys out: never let an older answer undo a newer choice ---
  function wireOptions(form) {
    let changes = 0;
    let checked = 0;  // `changes` at the last change, which sends a check of its own
    let typed = null;  // an option typed in since the answer left aside was asked for
    function changed() { changes += 1; checked = changes; typed = null; }
    // Counted in the capture phase, before htmx's own listener sends the request.
    form.addEventListener("change", changed, true);
    document.body.addEventListener("lumaweb:timeline", changed, true);
    // Typing in an option (a weight, a number) is a newer choice too, though its change comes
    // only when the field is left: an answer to the form as it was must not put the old value back.
    form.addEventListener("input", function (event) {
      if (event.target.closest && event.target.closest("#options")) changes += 1;
    }, true);
    // Typed back to what it held, the field says no change when it is left, and nothing would
    // ask again for the answer left aside: ask then.
    function askAgain(field) {
      typed = null;
      if (field.isConnected) field.dispatchEvent(new Event("change", { bubbles: true }));
    }
    form.addEventListener("focusout", function (event) {
      if (typed && event.target === typed) askAgain(typed);
    });
    // The options live inside the form, so their htmx events reach it; a replaced form's
    // listeners go with it.
    form.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt.id === "options") event.detail.elt.dataset.asked = String(changes);
    });
    form.addEventListener("htmx:beforeSwap", function (event) {
      const options = event.detail.elt;
      if (options.id !== "options" || options.dataset.asked === String(changes)) return;
      event.detail.shouldSwap = false;  // a newer choice: its own check is queued, or will be
      if (checked === changes) return;  // queued: it was a change
      const field = document.activeElement;
      if (field && options.contains(field)) typed = field;  // asked when it is left
      else askAgain(options);
    });
  }

  // --- the gallery picker: thumbnails, search across the whole gallery, a preview per slot ---
  // The slot's plain <select name="<slot>_pick"> (the no-JS way) stays in the form, hidden, and
  // holds what is picked; the dialog only sets it and says "change".
  const picker = { dialog: null, target: null };

  function pickerDialog() {
    if (picker.dialog) return picker.dialog;
    const dialog = document.createElement("dialog");
    dialog.className = "picker";
    dialog.setAttribute("aria-labelledby", "picker-title");
    dialog.innerHTML =
      '<div class="picker__head"><h2 id="picker-title" class="picker__title">Choose from the gallery</h2>' +
      '<button type="button" class="button button--quiet" data-picker-close>Close</button></div>' +
      '<form class="picker__search" role="search"><label for="picker-q" class="visually-hidden">Search the gallery</label>' +
      '<input id="picker-q" type="search" name="q" placeholder="Search prompts…" autocomplete="off" autofocus>' +
      '<button type="submit" class="button">Search</button></form>' +
      '<div class="picker__results" data-picker-results></div>' +
      '<div class="picker__foot"><span class="picker__chosen" data-picker-chosen aria-live="polite"></span>' +
      '<button type="button" class="button button--primary" data-picker-done>Use selected</button></div>';
    document.body.appendChild(dialog);
    const results = dialog.querySelector("[data-picker-results]");
    const search = dialog.querySelector("input[type=search]");
    let typing = null;
    dialog.querySelector("form").addEventListener("submit", function (event) {
      event.preventDefault();
      load(search.value);
    });
    search.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(function () { load(search.value); }, 250);
    });
    dialog.querySelector("[data-picker-close]").addEventListener("click", function () { dialog.close(); });
    dialog.querySelector("[data-picker-done]").addEventListener("click", function () {
      apply(picker.target, Array.from(picker.target.chosen.values()));
      dialog.close();
    });
    results.addEventListener("click", function (event) {
      const more = event.target.closest("[data-more]");
      if (more) { fetchInto(more.dataset.more, more); return; }
      const item = event.target.closest("[data-pick]");
      if (!item) return;
      const target = picker.target;
      const piece = {
        uuid: item.dataset.pick, label: item.dataset.label, thumb: item.dataset.thumb, seconds: item.dataset.seconds,
      };
      if (!target.multiple) {
        apply(target, [piece]);
        dialog.close();
        return;
      }
      if (target.chosen.has(piece.uuid)) target.chosen.delete(piece.uuid);
      else target.chosen.set(piece.uuid, piece);
      marks();
    });
    dialog.addEventListener("close", function () {
      if (picker.target) picker.target.opener.focus();
    });
    picker.dialog = dialog;

    function url(text) {
      const form = picker.target.form;
      return form.dataset.pickerUrl + "?" + new URLSearchParams(
        { mode: form.dataset.mode, slot: picker.target.slot, q: text }).toString();
    }
    function fetchInto(address, replaced) {
      return fetch(address)
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          if (replaced) replaced.outerHTML = html; else results.innerHTML = html;
          marks();
        })
        .catch(function () {
          results.innerHTML = '<p class="field__error" role="alert">The gallery could not be loaded. Try again.</p>';
        });
    }
    function load(text) { return fetchInto(url(text), null); }
    function marks() {
      const chosen = picker.target.chosen;
      results.querySelectorAll("[data-pick]").forEach(function (item) {
        item.setAttribute("aria-pressed", String(chosen.has(item.dataset.pick)));
      });
      dialog.querySelector("[data-picker-chosen]").textContent =
        picker.target.multiple ? chosen.size + " selected" : "";
    }
    dialog.load = load;
    return dialog;
  }

  function apply(target, pieces) {
    const select = target.select;
    Array.from(select.options).forEach(function (option) { option.selected = false; });
    pieces.forEach(function (piece) {
      let option = Array.from(select.options).find(function (o) { return o.value === piece.uuid; });
      if (!option) {  // older than the plain list: the form accepts any piece the picker offers
        option = new Option(piece.label, piece.uuid);
        select.add(option);
      }
      if (piece.thumb) option.dataset.thumb = piece.thumb;
      if (piece.seconds) option.dataset.seconds = piece.seconds;  // a video's length
      option.selected = true;
    });
    if (!pieces.length && !select.multiple) select.value = "";
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function picked(select) {
    return Array.from(select.selectedOptions).filter(function (o) { return o.value; });
  }

  function wirePickers(form) {
    form.querySelectorAll(".slot[data-slot], [data-row]").forEach(function (slot) { wireSlot(form, slot); });
    // Rows "Add keyframe" makes later get theirs when they arrive.
    const rows = form.querySelector("[data-rows]");
    if (rows) {
      new MutationObserver(function (changes) {
        changes.forEach(function (change) {
          change.addedNodes.forEach(function (node) {
            if (node.nodeType === 1 && node.matches("[data-row]")) wireSlot(form, node);
          });
        });
      }).observe(rows, { childList: true });
    }
  }

  function wireSlot(form, slot) {
    const select = slot.querySelector("select[name$='_pick'], select[name$='-pick']");
    const file = slot.querySelector("input[type=file]");
    if (!select || slot.dataset.picker) return;
    slot.dataset.picker = "yes";
    const name = slot.dataset.slot || "keyframes";
    const fallback = select.closest("label");
    fallback.hidden = true;
    const opener = document.createElement("button");
    opener.type = "button";
    opener.className = "button slot__open";
    opener.textContent = select.multiple ? "Choose from gallery…" : "Pick from gallery…";
    fallback.insertAdjacentElement("afterend", opener);
    const preview = document.createElement("ul");
    preview.className = "slot__preview";
    preview.setAttribute("aria-label", "Chosen for this slot");
    const choices = slot.querySelector(".slot__choices");
    if (choices) choices.after(preview); else slot.appendChild(preview);
    const target = { form: form, slot: name, select: select, multiple: select.multiple, opener: opener, chosen: new Map() };

    opener.addEventListener("click", function () {
      const dialog = pickerDialog();
      picker.target = target;
      target.chosen = new Map(picked(select).map(function (o) {
        return [o.value, { uuid: o.value, label: o.textContent, thumb: o.dataset.thumb || "" }];
      }));
      dialog.querySelector("[data-picker-done]").hidden = !target.multiple;
      dialog.querySelector("input[type=search]").value = "";
      dialog.querySelector("[data-picker-results]").innerHTML = "";
      dialog.showModal();
      dialog.load("");
    });

    function item(thumb, label, remove) {
      const li = document.createElement("li");
      li.className = "slot__chosen";
      if (thumb) {
        const img = document.createElement("img");
        img.src = thumb;
        img.alt = "";
        li.appendChild(img);
      }
      const text = document.createElement("span");
      text.textContent = label;
      li.appendChild(text);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--quiet";
      button.textContent = "Remove";
      button.setAttribute("aria-label", "Remove " + label);
      button.addEventListener("click", remove);
      li.appendChild(button);
      return li;
    }

    function render() {
      preview.replaceChildren();
      picked(select).forEach(function (option) {
        preview.appendChild(item(option.dataset.thumb, option.textContent, function () {
          option.selected = false;
          if (!select.multiple) select.value = "";
          select.dispatchEvent(new Event("change", { bubbles: true }));
          opener.focus();
        }));
      });
      Array.from(file && file.files ? file.files : []).forEach(function (chosen, index) {
        const thumb = chosen.type.startsWith("image/") ? URL.createObjectURL(chosen) : "";
        preview.appendChild(item(thumb, chosen.name, function () {
          const kept = new DataTransfer();
          Array.from(file.files).forEach(function (f, i) { if (i !== index) kept.items.add(f); });
          file.files = kept.files;
          file.dispatchEvent(new Event("change", { bubbles: true }));
          file.focus();
        }));
      });
      preview.hidden = !preview.children.length;
    }

    // Files dropped on the slot, or pasted while it has focus, go into its file input.
    function take(files) {
      if (!file || file.disabled || !files.length) return;
      const accepted = new DataTransfer();
      if (file.multiple) Array.from(file.files).forEach(function (f) { accepted.items.add(f); });
      Array.from(file.multiple ? files : [files[0]]).forEach(function (f) { accepted.items.add(f); });
      file.files = accepted.files;
      file.dispatchEvent(new Event("change", { bubbles: true }));
    }
    slot.addEventListener("dragover", function (event) {
      if (!file || file.disabled || !event.dataTransfer.types.includes("Files")) return;
      event.preventDefault();
      slot.classList.add("slot--drop");
    });
    slot.addEventListener("dragleave", function () { slot.classList.remove("slot--drop"); });
    slot.addEventListener("drop", function (event) {
      slot.classList.remove("slot--drop");
      if (!file || file.disabled || !event.dataTransfer.files.length) return;
      event.preventDefault();
      take(event.dataTransfer.files);
    });
    slot.addEventListener("paste", function (event) {
      if (event.clipboardData && event.clipboardData.files.length) {
        event.preventDefault();
        take(event.clipboardData.files);
      }
    });
    select.addEventListener("change", render);
    if (file) file.addEventListener("change", render);
    render();
    // What a chain link or a kept form already holds: its thumbnails.
    const missing = picked(select).filter(function (o) { return !o.dataset.thumb; });
    if (missing.length) {
      const query = new URLSearchParams({ mode: form.dataset.mode, slot: name });
      missing.forEach(function (o) { query.append("only", o.value); });
      fetch(form.dataset.pickerUrl + "?" + query.toString())
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          const found = new DOMParser().parseFromString(html, "text/html");
          found.querySelectorAll("[data-pick]").forEach(function (piece) {
            const option = missing.find(function (o) { return o.value === piece.dataset.pick; });
            if (option && piece.dataset.thumb) option.dataset.thumb = piece.dataset.thumb;
          });
          render();
          select.dispatchEvent(new CustomEvent("lumaweb:thumbs", { bubbles: true }));
        });
    }
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
    wirePickers(form);
  }

  // Back, Forward or a reload show the studio as it was first loaded, not as htmx left it: a
  // prompt just sent (kept in the form, ready to send again) came back empty. Each mode's words
  // are kept for this tab when the page is left, and put back in its fields that come back
  // empty. Logging out forgets them (static/js/app.js, on every page).
  const DRAFT = "lumaweb.create-form:";  // and the mode
  const LEFT = "lumaweb.create-left";  // the mode last left, whose words another mode takes
  const OPTIONS = "lumaweb.create-options";  // the options of the mode last left (and + mode)
  const PICKS = "lumaweb.create-picks:";  // and the mode: the gallery pieces its slots hold
  const TIMELINE = "lumaweb.create-timeline:";  // and the mode: its keyframes' picks and frames
  // The boxes among them: the options' (Loop) and the camera moves a prompt may name.
  const BOXES = "#options input[type=checkbox][name], .concepts input[type=checkbox][name]";

  let loggingOut = false;

  window.addEventListener("pagehide", function () {
    const form = document.getElementById("create-form");
    if (loggingOut || !form || !form.elements.mode) return;
    const words = {};
    form.querySelectorAll("textarea[name]").forEach(function (field) {
      words[field.name] = field.value;
    });
    sessionStorage.setItem(DRAFT + form.elements.mode.value, JSON.stringify(words));
    sessionStorage.setItem(LEFT, form.elements.mode.value);
    const options = {};
    form.querySelectorAll("#options select[name]").forEach(function (field) {
      options[field.name] = field.value;
    });
    form.querySelectorAll(BOXES).forEach(function (field) {
      options[field.name + "=" + field.value] = field.checked;  // a box's state, by its value too
    });
    sessionStorage.setItem(OPTIONS, JSON.stringify(options));
    sessionStorage.setItem(OPTIONS + ":" + form.elements.mode.value, JSON.stringify(options));
    const picks = {};
    form.querySelectorAll(".slot select[name$='_pick']").forEach(function (field) {
      picks[field.name] = Array.from(field.selectedOptions).map(function (o) { return o.value; });
    });
    sessionStorage.setItem(PICKS + form.elements.mode.value, JSON.stringify(picks));
    const timeline = form.querySelector("[data-timeline]");
    if (timeline && timeline.timeline) {
      const anchors = timeline.timeline.rows().map(function (row) {
        return { pick: row.querySelector("select").value, frame: timeline.timeline.frameInput(row).value };
      }).filter(function (anchor) { return anchor.pick; });  // an upload's row cannot come back
      sessionStorage.setItem(TIMELINE + form.elements.mode.value, JSON.stringify(anchors));
    }
  });

  // What the tab kept under `key`: an object, or null when there is none or it is not one (a
  // value written by an older page, or by hand).
  function stored(key) {
    try {
      const value = JSON.parse(sessionStorage.getItem(key) || "null");
      return value && typeof value === "object" ? value : null;
    } catch (error) {
      return null;
    }
  }

  // A mode's gallery picks come back with it, as its words do, where its slots are empty (a
  // link's own pick stays) and its pick lists still offer them. Uploads cannot: a file input is
  // never filled by a page.
  function restorePicks(form, mode) {
    const picks = stored(PICKS + mode);
    if (!picks) return;
    Object.keys(picks).forEach(function (name) {
      const field = form.querySelector('.slot select[name="' + CSS.escape(name) + '"]');
      const wanted = Array.isArray(picks[name]) ? picks[name].filter(Boolean) : [];
      if (!field || field.value || !wanted.length) return;
      Array.from(field.options).forEach(function (option) {
        option.selected = wanted.includes(option.value);
      });
      if (field.value) field.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  // A mode's keyframes picked from the gallery come back with their frames, on a timeline that
  // holds none of its own (a remix's, or a refused form's, stay as they are).
  function restoreTimeline(form, mode) {
    const root = form.querySelector("[data-timeline]");
    const anchors = stored(TIMELINE + mode);
    if (!root || !root.timeline || !Array.isArray(anchors)) return;
    const timeline = root.timeline;
    if (timeline.rows().some(timeline.hasImage)) return;
    anchors.forEach(function (anchor) {
      const row = timeline.rows().find(function (r) { return !timeline.hasImage(r); }) || timeline.add();
      const pick = row && row.querySelector("select");
      if (!pick || !Array.from(pick.options).some(function (o) { return o.value === anchor.pick; })) return;
      pick.value = anchor.pick;
      timeline.frameInput(row).value = /^\d+$/.test(anchor.frame) ? anchor.frame : "";
      pick.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  // The options the mode left had (an aspect ratio, a ticked Loop) that the new mode offers as
  // they are, or that a reload or Back to it had: set, then checked as any change is, so the
  // form's hints and greyed values follow them.
  function carryOptions(form, key) {
    const options = stored(key);
    if (!options) return;
    let changed = null;
    form.querySelectorAll("#options select[name]").forEach(function (field) {
      const value = options[field.name];
      const offered = Array.from(field.options).some(function (option) {
        return option.value === value && !option.disabled;
      });
      if (!offered || field.value === value) return;
      field.value = value;
      changed = field;
    });
    form.querySelectorAll(BOXES).forEach(function (field) {
      const value = options[field.name + "=" + field.value];
      if (typeof value !== "boolean" || field.disabled || field.checked === value) return;
      field.checked = value;
      changed = field;
    });
    if (changed) changed.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Another mode chosen (a tab, or the phone's list) takes the words along to its form, and a
  // keyboard's choice lands in its prompt rather than at the top of the page. Coming back by a
  // plain link (the top bar's Studio, a mode's address) takes them along too; a link that
  // brings its own words (a remix, a chain) keeps those.
  const CARRY = "lumaweb.create-carry";

  function plainLink(arrival) {
    const asked = Array.from(new URLSearchParams(location.search).keys());
    return arrival.type === "navigate" && asked.every(function (name) { return name === "mode"; });
  }

  function said(words) {
    return Boolean(words) && Object.values(words).some(function (text) { return String(text).trim(); });
  }

  function restoreDraft() {
    const form = document.getElementById("create-form");
    const arrival = performance.getEntriesByType("navigation")[0];
    const carry = sessionStorage.getItem(CARRY) || (arrival && plainLink(arrival) ? "words" : null);
    sessionStorage.removeItem(CARRY);
    if (!form || !form.elements.mode || !arrival) return;
    const back = arrival.type === "back_forward" || arrival.type === "reload";
    if (!back && !carry) return;
    // A mode's own words come back with it; it takes those of the mode just left only when it
    // has none of its own, so that no mode's words are lost to another's.
    const own = form.elements.mode.value;
    let words = stored(DRAFT + own);
    if (!back && !said(words)) words = stored(DRAFT + sessionStorage.getItem(LEFT));
    // A mode's own options come back with it (a reload, Back or a tab to it), then those of
    // the mode just left come along where this one offers them too.
    carryOptions(form, OPTIONS + ":" + own);
    restorePicks(form, own);
    restoreTimeline(form, own);
    if (!back && sessionStorage.getItem(LEFT) !== own) carryOptions(form, OPTIONS);
    if (!words) return;
    Object.keys(words).forEach(function (name) {
      const field = form.querySelector('textarea[name="' + CSS.escape(name) + '"]');
      if (!field || field.value) return;
      field.value = String(words[name]);
      field.dispatchEvent(new Event("input", { bubbles: true }));  // its counter counts it
    });
    const prompt = form.elements.prompt;
    if (back || carry !== "focus" || !prompt) return;
    // After the load, once the browser has placed the page (it may move the focus until then).
    if (document.readyState === "complete") prompt.focus();
    else window.addEventListener("load", function () { prompt.focus(); }, { once: true });
  }

  document.addEventListener("click", function (event) {
    const tab = event.target.closest && event.target.closest("a.modes__tab");
    if (!tab || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    sessionStorage.setItem(CARRY, event.detail === 0 ? "focus" : "words");  // 0: Enter, no click
  });
  // The phone's list opens what a finger or a pointer picks; a keyboard's arrows only move
  // through it (its Open button opens), so reading the list never leaves the page.
  let keyed = false;
  document.addEventListener("keydown", function (event) {
    if (event.target.matches && event.target.matches("[data-modes-pick] select")) keyed = true;
  });
  document.addEventListener("pointerdown", function () { keyed = false; });
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form.topbar__user")) loggingOut = true;
    if (event.target.matches("[data-modes-pick]")) sessionStorage.setItem(CARRY, "focus");
  });
  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-modes-pick] select") || keyed) return;
    sessionStorage.setItem(CARRY, "words");
    event.target.form.submit();
  });

  // Ctrl+Enter (⌘+Enter) in the studio's form sends it, as in most editors and chat boxes.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const form = event.target.closest && event.target.closest("#create-form");
    if (!form) return;
    event.preventDefault();
    form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    restoreDraft();
  });
  document.addEventListener("htmx:afterSettle", function () { wire(document); });
})();
