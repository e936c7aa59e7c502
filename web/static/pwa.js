// Dreiklang as an installed app: service worker, install prompt, iOS hint, app badge,
// forgetting the user's saved pages on sign-out (shared tablets), and the "⋯" menus of
// one's own messages.
/* global Outbox */
(() => {
  "use strict";

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
  }

  function isStandalone() {
    return window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  }

  function isIos() {
    return /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }

  // Chromium offers installation through an event; iOS Safari only through Share → Add to Home.
  function offerInstall() {
    const box = document.getElementById("install-box");
    if (!box || isStandalone()) return;
    const button = document.getElementById("install");
    let deferred = null;
    window.addEventListener("beforeinstallprompt", (e) => {
      e.preventDefault();
      deferred = e;
      box.hidden = false;
      button.hidden = false;
    });
    button.addEventListener("click", async () => {
      if (!deferred) return;
      deferred.prompt();
      await deferred.userChoice.catch(() => undefined);
      deferred = null;
      box.hidden = true;
    });
    window.addEventListener("appinstalled", () => (box.hidden = true));
    if (isIos()) {
      box.hidden = false;
      button.hidden = true;
      document.getElementById("ios-install").hidden = false;
    }
  }

  // The total of the unread badges in the thread list, on the app icon.
  function updateAppBadge() {
    if (!("setAppBadge" in navigator) || !document.getElementById("thread-list")) return;
    let total = 0;
    for (const item of document.querySelectorAll(".titem:not([data-uncounted])")) {
      total += Math.max(0, Number(item.dataset.count) - Number(item.dataset.read));
    }
    (total ? navigator.setAppBadge(total) : navigator.clearAppBadge()).catch(() => undefined);
  }

  // Forget what this device kept of the person: saved pages, unsent messages, the badge.
  async function forget() {
    try {
      if (window.caches) await caches.delete("dk-pages");
      if (typeof Outbox !== "undefined") await Outbox.clear();
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "signed-out" });
      }
      if ("clearAppBadge" in navigator) await navigator.clearAppBadge();
    } catch (err) {
      /* best effort: signing out must never be blocked */
    }
  }

  function forgetOnSignOut() {
    const form = document.getElementById("logout");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      if (form.dataset.cleared) return;
      e.preventDefault();
      await forget();
      form.dataset.cleared = "1";
      form.submit();
    });
  }

  // A message's "⋯" button shows or hides its actions (a disclosure: aria-expanded says which).
  // Listening on the document covers messages that arrive later over the socket. Escape or a
  // tap elsewhere closes an open menu.
  function closeMenus(except) {
    for (const b of document.querySelectorAll('.menu-button[aria-expanded="true"]')) {
      if (b === except) continue;
      b.setAttribute("aria-expanded", "false");
      const items = document.getElementById(b.getAttribute("aria-controls"));
      if (items) items.hidden = true;
    }
  }

  function messageMenus() {
    document.addEventListener("click", (e) => {
      const button = e.target.closest(".menu-button");
      closeMenus(button);
      if (!button) return;
      const items = document.getElementById(button.getAttribute("aria-controls"));
      if (!items) return;
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      items.hidden = !open;
      if (open) items.querySelector("button").focus();
    });
    document.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      const open = document.querySelector('.menu-button[aria-expanded="true"]');
      if (!open) return;
      closeMenus(null);
      open.focus();
    });
  }

  // Offline, the list says which threads this device saved (they open without a connection)
  // and dims the others, which would only show "You are offline".
  async function markSavedThreads() {
    const list = document.querySelector(".threads[data-label-saved]");
    if (!list || !window.caches) return;
    const offline = navigator.onLine === false || "savedCopy" in document.body.dataset;
    if (!offline) {
      for (const note of list.querySelectorAll(".offline-mark")) note.remove();
      for (const item of list.querySelectorAll(".titem")) delete item.dataset.offline;
      return;
    }
    let saved = new Set();
    try {
      const cache = await caches.open("dk-pages");
      saved = new Set((await cache.keys()).map((r) => new URL(r.url).pathname));
    } catch (err) {
      /* no storage: nothing is saved */
    }
    for (const item of list.querySelectorAll(".titem")) {
      const link = item.querySelector("a");
      const kept = saved.has(new URL(link.href).pathname);
      item.dataset.offline = kept ? "saved" : "unsaved";
      let note = item.querySelector(".offline-mark");
      if (!note) {
        note = document.createElement("span");
        note.className = "offline-mark";
        item.querySelector(".tmeta").append(note);
      }
      note.textContent = kept ? list.dataset.labelSaved : list.dataset.labelUnsaved;
    }
  }

  window.dreiklangBadge = updateAppBadge;
  window.dreiklangForget = forget; // app.js: signed out from another device
  registerWorker();
  offerInstall();
  forgetOnSignOut();
  messageMenus();
  updateAppBadge();
  document.body.addEventListener("htmx:afterSwap", updateAppBadge);
  markSavedThreads();
  window.addEventListener("offline", markSavedThreads);
  window.addEventListener("online", markSavedThreads);
  document.body.addEventListener("htmx:afterSwap", markSavedThreads);
})();
