// The gallery's enhancements: hover previews, keyboard, copy, menus, toasts, tidy filter URLs.
// Every page works without this file; it never evaluates strings (the CSP forbids it anyway).
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // --- video previews: play on hover or keyboard focus, stop on leave ---

  function startPreview(frame) {
    if (frame.querySelector(".media-frame__preview")) return;
    const inline = frame.querySelector("video.media");
    if (inline) {  // not archived yet: the card shows the video itself
      inline.loop = true;
      inline.play().catch(function () {});
      return;
    }
    const video = document.createElement("video");
    video.className = "media media--card media-frame__preview";
    video.muted = true;
    video.loop = true;
    video.playsInline = true;
    video.setAttribute("aria-hidden", "true");
    video.src = frame.dataset.preview;
    frame.appendChild(video);
    video.play().catch(function () {});
  }

  function stopPreview(frame) {
    const inline = frame.querySelector("video.media:not(.media-frame__preview)");
    if (inline) inline.pause();
    const video = frame.querySelector(".media-frame__preview");
    if (video) {
      video.pause();
      video.remove();
    }
  }

  function previewFrame(target) {
    if (!(target instanceof Element)) return null;
    const card = target.closest("[data-card]");
    return card ? card.querySelector("[data-preview]") : null;
  }

  document.addEventListener("mouseover", function (event) {
    const frame = previewFrame(event.target);
    if (frame && previewFrame(event.relatedTarget) !== frame) startPreview(frame);
  });
  document.addEventListener("mouseout", function (event) {
    const frame = previewFrame(event.target);
    if (frame && previewFrame(event.relatedTarget) !== frame) stopPreview(frame);
  });
  document.addEventListener("focusin", function (event) {
    if (!event.target.matches("[data-card-link]")) return;
    const frame = previewFrame(event.target);
    if (frame) startPreview(frame);
  });
  document.addEventListener("focusout", function (event) {
    if (!event.target.matches("[data-card-link]")) return;
    const frame = previewFrame(event.target);
    if (frame) stopPreview(frame);
  });

  // --- copy prompt, and menus that close like menus ---

  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  function say(button, text) {
    const before = button.textContent;
    button.textContent = text;
    button.disabled = true;
    setTimeout(function () {
      button.textContent = before;
      button.disabled = false;
      closeMenus(null);
    }, 1200);
  }

  document.addEventListener("click", function (event) {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      // A card's button copies the full prompt its title holds (not repeated in the button).
      const text = copy.dataset.copy || copy.closest("[data-card]").querySelector(".card__prompt").title;
      navigator.clipboard.writeText(text).then(
        function () { say(copy, "Copied"); },
        function () { say(copy, "Could not copy"); }
      );
      return;
    }
    const close = event.target.closest("[data-toast-close]");
    if (close) {
      close.closest("[data-toast]").remove();
      return;
    }
    closeMenus(event.target.closest("details[data-menu]"));
  });

  // --- keyboard: arrows move between cards, Enter opens, s stars, Esc closes ---

  function cardLinks() {
    return Array.from(document.querySelectorAll("[data-card-link]"));
  }

  function columns(links) {
    if (!links.length) return 1;
    const top = links[0].getBoundingClientRect().top;
    let count = 0;
    while (count < links.length && Math.abs(links[count].getBoundingClientRect().top - top) < 4) count++;
    return Math.max(1, count);
  }

  function move(key) {
    const links = cardLinks();
    if (!links.length) return false;
    const current = links.indexOf(document.activeElement);
    let next;
    if (current < 0) {
      next = 0;
    } else {
      const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(links), ArrowUp: -columns(links) }[key];
      next = Math.min(links.length - 1, Math.max(0, current + step));
    }
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  // On a piece's page (no cards): ← the next newer piece, → the next older one.
  // Walking from piece to piece takes the place of the piece in history, so Back (and Esc)
  // return to the page the walk started from, not through every piece seen.
  function step(key) {
    const which = { ArrowLeft: "prev", ArrowRight: "next" }[key];
    const link = which && document.querySelector('[data-step="' + which + '"]');
    if (!link) return false;
    location.replace(link.href);
    return true;
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-step]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    location.replace(link.href);
  });

  // A card opened from filtered results (or a board) carries them to its piece's page, so ← / →
  // there step through those results: the link is given them as it is about to be followed.
  function carryWalk(event) {
    const link = event.target.closest && event.target.closest("[data-card] a[href]");
    const results = link && link.closest("[data-walk]");
    if (!results) return;
    const own = link.closest("[data-card]").querySelector("[data-card-link]");
    const url = new URL(link.href);
    if (!own || url.pathname !== new URL(own.href).pathname) return;
    url.search = results.dataset.walk;
    link.href = url.href;
  }
  ["mousedown", "click"].forEach(function (type) {
    document.addEventListener(type, carryWalk, true);
  });

  function starButton() {
    const active = document.activeElement;
    const card = active && active.closest ? active.closest("[data-card]") : null;
    if (card) return card.querySelector("[data-star]");
    const toolbar = document.querySelector("[data-toolbar]");
    return toolbar ? toolbar.querySelector("[data-star]") : null;
  }

  function close() {
    const open = document.querySelector("details[data-menu][open]");
    if (open) {
      open.removeAttribute("open");
      return true;
    }
    if (!document.querySelector("[data-toolbar]")) return false;  // not on a piece's page
    const back = document.referrer && new URL(document.referrer).origin === location.origin;
    const walked = document.querySelector("[data-walk-back]");
    if (back && history.length > 1) history.back();
    else location.assign(walked ? walked.href : "/gallery/");
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    let handled = false;
    if (event.key.indexOf("Arrow") === 0) {
      handled = move(event.key) || step(event.key);
    } else if (event.key === "s") {
      const button = starButton();
      if (button) {
        button.click();
        handled = true;
      }
    } else if (event.key === "Escape") {
      handled = close();
    }
    if (handled) event.preventDefault();
  });

  // --- toasts: hide the ones about what you are looking at; the rest fade away ---

  function wireToast(toast) {
    const card = document.getElementById(toast.dataset.cardId);
    if (card || location.pathname === toast.dataset.href) {
      toast.remove();
      return;
    }
    setTimeout(function () {
      toast.classList.add("toast--leaving");
      setTimeout(function () { toast.remove(); }, 400);
    }, 8000);
  }

  function watchToasts() {
    const box = document.getElementById("toasts");
    if (!box) return;
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node instanceof Element && node.matches("[data-toast]")) wireToast(node);
        });
      });
    }).observe(box, { childList: true });
  }

  // --- filters: keep the shareable URL short by dropping empty fields ---

  // Enter in the search is a change and a submit, after the typing's own search: the filters
  // as they stand are asked for (and a step of history made) only when the address differs.
  document.addEventListener("htmx:confirm", function (event) {
    if (!event.target.matches("form[data-filters]")) return;
    const asked = new URLSearchParams();
    new FormData(event.target).forEach(function (value, name) {
      if (value !== "") asked.append(name, value);
    });
    if (asked.toString() === new URLSearchParams(location.search).toString()) event.preventDefault();
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.matches("[data-filters]")) return;
    const params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") delete params[name];
    });
  });

  // Back or Forward to a filtered page htmx kept shows the results of that address, but the
  // filter controls as they were when the page was left (a list's choice is not in its HTML):
  // the address says which filters are on, so the controls are set from it.
  function filtersFromAddress() {
    const form = document.querySelector("form[data-filters]");
    if (!form) return;
    const query = new URLSearchParams(location.search);
    Array.from(form.elements).forEach(function (field) {
      if (!field.name) return;
      if (field.type === "checkbox") field.checked = query.has(field.name);
      else field.value = query.get(field.name) || "";
    });
    setOpen(form, countFilters(form) > 0);
  }

  // On a phone the filters fold under one button, which says how many are on; a page opens
  // with them shown while any is on, and "Show results" folds them over the results.
  function countFilters(form) {
    return Array.from(form.querySelectorAll(".filters__row [name]")).filter(function (field) {
      return field.type === "checkbox" ? field.checked : field.value !== "";
    }).length;
  }

  function setOpen(form, open) {
    const toggle = form.querySelector("[data-filters-toggle]");
    if (!toggle) return;
    const on = countFilters(form);
    toggle.textContent = on ? "Filters (" + on + ")" : "Filters";
    form.classList.toggle("filters--open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }

  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-filters-toggle]");
    const done = event.target.closest("[data-filters-done]");
    const form = (toggle || done) && (toggle || done).closest("form");
    if (!form) return;
    setOpen(form, Boolean(toggle) && !form.classList.contains("filters--open"));
    if (done) document.getElementById("gallery-results").scrollIntoView({ block: "start" });
  });
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-filters]");
    if (form) setOpen(form, form.classList.contains("filters--open"));
  });
  document.addEventListener("htmx:historyRestore", filtersFromAddress);

  // A card's Undo (its note after Move to Trash) gives the keyboard back the card it restores.
  let restoring = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    const note = event.detail.elt.closest && event.detail.elt.closest(".card--trashed");
    if (note) restoring = note.id;
  });
  document.addEventListener("htmx:afterSettle", function () {
    const link = restoring && document.querySelector("#" + CSS.escape(restoring) + " [data-card-link]");
    if (!link) return;
    restoring = null;
    link.focus();
  });

  // The keyboard on a card's link, where the page already stands (no scroll).
  function focusCard(card) {
    const link = card && card.querySelector("[data-card-link]");
    if (link) link.focus({ preventScroll: true });
  }

  // "Back to the results" names the piece's card (#card-…). Past the results' first page it is
  // not there yet: their next pages are loaded, as scrolling would load them, until it is.
  function seekCard(pagesLeft) {
    if (!location.hash.startsWith("#card-")) return;
    const card = document.getElementById(location.hash.slice(1));
    if (card) {
      card.scrollIntoView({ block: "center" });
      focusCard(card);
      return;
    }
    const more = document.querySelector("[data-more]");
    if (!more || pagesLeft === 0) return;
    document.addEventListener("htmx:afterSettle", function next() {
      if (more.isConnected) return;  // another swap (a poll): that page is still on its way
      document.removeEventListener("htmx:afterSettle", next);
      seekCard(pagesLeft - 1);
    });
    htmx.trigger(more, "click");
  }

  // Back from a piece (Esc, the browser's Back) gives the keyboard the card it was opened from:
  // the next arrow goes on from there, not from the first card.
  const OPENED = "lumaweb.opened-card";
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("[data-card-link]");
    if (link) sessionStorage.setItem(OPENED, link.closest("[data-card]").id);
  });
  window.addEventListener("pageshow", function (event) {
    const arrival = performance.getEntriesByType("navigation")[0];
    if (!event.persisted && !(arrival && arrival.type === "back_forward")) return;
    focusCard(document.getElementById(sessionStorage.getItem(OPENED) || ""));
  });

  document.addEventListener("DOMContentLoaded", function () {
    seekCard(20);
    watchToasts();
    const form = document.querySelector("form[data-filters]");
    if (form) setOpen(form, countFilters(form) > 0);
  });
})();
