// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function updateCounter(textarea) {
    const counter = document.querySelector('[data-counter-for="' + textarea.id + '"]');
    if (!counter) return;
    const max = parseInt(textarea.dataset.max || "0", 10);
    // In characters, as the studio counts them (an emoji is one, not two UTF-16 units).
    const length = Array.from(textarea.value).length;
    counter.textContent = max ? length + " / " + max : String(length);
    counter.classList.toggle("counter--over", max > 0 && length > max);
  }

  function wire(root) {
    root.querySelectorAll("textarea[data-counter]").forEach(function (textarea) {
      updateCounter(textarea);
      textarea.addEventListener("input", function () { updateCounter(textarea); });
    });
  }

  // A running job's elapsed time ticks here; its card polls only for a change of state.
  // Same wording as the server's `elapsed` filter (generations/templatetags/gallery.py).
  function formatElapsed(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 86400) + " d " + Math.floor((seconds % 86400) / 3600) + " h";
  }

  function tick() {
    document.querySelectorAll("time.elapsed[data-since]").forEach(function (clock) {
      const since = Date.parse(clock.dataset.since);
      if (Number.isNaN(since)) return;
      clock.textContent = formatElapsed(Math.max(0, Math.floor((Date.now() - since) / 1000)));
    });
  }

  setInterval(tick, 1000);

  // One poll a second for everything the page watches (generations/views.py `poll`): each
  // running card with the state it shows, and a detail page's job. Nothing watched, no request.
  // A poll names at most POLL_AT_ONCE cards, so that its address stays within a server's
  // request line (gunicorn's 4 KB); a page watching more takes them in turns, a poll each.
  const POLL_AT_ONCE = 60;
  let turn = 0;

  function watched(taking) {
    const all = Array.from(document.querySelectorAll("[data-card][data-poll]"), function (card) {
      return card.id.replace(/^card-/, "") + ":" + card.dataset.poll;
    });
    let seen = all;
    if (all.length > POLL_AT_ONCE) {
      const start = turn % all.length;
      seen = all.slice(start, start + POLL_AT_ONCE);
      seen = seen.concat(all.slice(0, POLL_AT_ONCE - seen.length));
      if (taking) turn = start + POLL_AT_ONCE;
    }
    const page = document.querySelector("[data-poll-page]");
    return { seen: seen.join(","), page: page ? page.dataset.pollPage : "" };
  }

  document.addEventListener("htmx:confirm", function (event) {
    if (!event.target.matches("[data-poller]")) return;
    const what = watched();
    if (!what.seen && !what.page) event.preventDefault();
  });
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.matches("[data-poller]")) return;
    const what = watched(true);
    if (what.seen) event.detail.parameters.seen = what.seen;
    if (what.page) event.detail.parameters.page = what.page;
  });

  // A quiet note while polls cannot reach the server (it restarts, or the network drops): htmx
  // keeps polling and swaps nothing meanwhile, and the first answer that comes back clears it.
  const PROXY_SAYS_DOWN = [502, 503, 504];

  function connectionLost(lost) {
    const note = document.getElementById("connection-status");
    if (note) note.hidden = !lost;
  }

  // Something a person did that the server refused (a form older than their last log-in, a
  // piece they may not delete, a request too large) says why, in the words of the page the
  // server answered with, where before nothing happened. A refused form token is replaced by
  // the one that page carries, so sending again works and what was typed stays.
  function refused(xhr) {
    const note = document.getElementById("request-refused");
    if (!note) return;
    const answer = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const heading = answer.querySelector("main h1");
    const lines = heading ? [heading].concat(Array.from(answer.querySelectorAll("main p")))
      : [answer.body];
    const said = lines.map(function (line) {
      const part = document.createElement(line === heading ? "strong" : "p");
      const link = line.querySelector("a[href^='/']");
      if (link && link.textContent.trim() === line.textContent.trim()) {
        const own = document.createElement("a");
        own.href = link.getAttribute("href");
        own.textContent = link.textContent;
        part.append(own);
      } else {
        part.textContent = line.textContent.trim();
      }
      return part;
    });
    const close = document.createElement("button");
    close.type = "button";
    close.className = "button button--small";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { note.hidden = true; });
    note.replaceChildren.apply(note, said.concat([close]));
    note.hidden = false;
    const headers = answer.body.getAttribute("hx-headers");
    const token = headers && JSON.parse(headers)["X-CSRFToken"];
    if (!token) return;
    document.body.setAttribute("hx-headers", headers);
    document.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) {
      input.value = token;
    });
  }

  document.addEventListener("htmx:sendError", function () { connectionLost(true); });
  document.addEventListener("htmx:responseError", function (event) {
    if (PROXY_SAYS_DOWN.includes(event.detail.xhr.status)) connectionLost(true);
    else if (event.detail.requestConfig.verb !== "get") refused(event.detail.xhr);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    connectionLost(false);
    const note = document.getElementById("request-refused");
    if (note && event.detail.requestConfig.verb !== "get") note.hidden = true;
  });

  // Someone else may log in next in this tab: what this person wrote in the studio's form
  // (kept for Back, static/js/create.js) is not theirs to see. Log out forgets it, and so does
  // a page seen logged out (the login page after a session ended without Log out).
  function forgetDrafts() {
    Object.keys(sessionStorage).forEach(function (key) {
      if (key.indexOf("lumaweb.create-") === 0) sessionStorage.removeItem(key);
    });
  }
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form.topbar__user")) forgetDrafts();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("form.topbar__user")) forgetDrafts();
    wire(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    wire(event.target);
    const empty = document.getElementById("gallery-empty");
    if (empty && document.querySelector("#gallery .card")) empty.remove();
  });
})();
