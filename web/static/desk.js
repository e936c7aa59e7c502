// The care desk (/desk): the queue refreshes when a desk notice arrives (app.js dispatches
// "dreiklang:desk"), waiting times count up live, and on a wide screen a question opens in
// the pane beside the queue instead of replacing it.
(function () {
  "use strict";
  const queue = document.getElementById("desk-queue");
  if (!queue) return;
  const pane = document.querySelector(".desk-pane");
  const wide = window.matchMedia("(min-width: 1100px)");
  let timer = null;

  function refresh() {
    clearTimeout(timer);
    // Several changes at once (a reply answers, releases the claim): one request.
    timer = setTimeout(() => {
      if (window.htmx) window.htmx.ajax("GET", queue.dataset.src, { target: "#desk-queue", swap: "innerHTML" });
    }, 250);
  }

  function minutes(since) {
    return Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 60000));
  }

  // "waiting 12 min", "waiting 3 h 5 min": the label comes from the page's language.
  function tick() {
    const label = queue.dataset.labelMinutes || "{n} min";
    for (const el of document.querySelectorAll(".waited[data-since]")) {
      const n = minutes(el.dataset.since);
      const text = n >= 60 ? Math.floor(n / 60) + " h " + (n % 60) + " min" : label.replace("{n}", n);
      const t = el.querySelector("time");
      if (t) t.textContent = text;
      el.classList.toggle("long", n >= 30);
    }
  }

  function counts() {
    const src = document.getElementById("desk-counts");
    if (!src) return;
    for (const el of document.querySelectorAll(".desk-tabs .count")) {
      const n = src.dataset[el.dataset.filter];
      if (n !== undefined) el.textContent = n;
    }
  }

  function targets() {
    const side = wide.matches && pane;
    if (pane) pane.hidden = !side;
    for (const a of queue.querySelectorAll("a[href^='/threads/']")) {
      if (side) a.target = "desk-pane";
      else a.removeAttribute("target");
    }
  }

  document.addEventListener("dreiklang:desk", refresh);
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.target !== queue) return;
    counts();
    tick();
    targets();
  });
  wide.addEventListener("change", targets);
  setInterval(tick, 30000);
  tick();
  targets();
})();
