// Dreiklang service worker: thin wiring to named functions.
// Served at /sw.js (no-cache) by server/views/pwa.py, which fills in VERSION and SHELL.
/* global Outbox */
"use strict";

const VERSION = "__VERSION__";
const SHELL = __SHELL__; // hashed URLs of CSS, JS, htmx, icons and the offline page
const SHELL_CACHE = "dk-shell-" + VERSION;
const PAGE_CACHE = "dk-pages"; // the user's data: cleared on sign-out
const PAGES_MAX = 20; // the thread list and the last viewed threads
const OFFLINE_URL = "/offline";

importScripts(SHELL.find((u) => u.startsWith("/static/outbox.js")));

self.addEventListener("install", (event) => event.waitUntil(precacheShell()));
self.addEventListener("activate", (event) => event.waitUntil(dropOldCaches()));
self.addEventListener("fetch", (event) => route(event));
self.addEventListener("message", (event) => event.waitUntil(onMessage(event.data || {})));
self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(flushOutbox());
});

async function precacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  await cache.addAll(SHELL);
  await self.skipWaiting();
}

async function dropOldCaches() {
  const names = await caches.keys();
  await Promise.all(
    names.filter((n) => n.startsWith("dk-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n)),
  );
  await self.clients.claim();
}

function route(event) {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(req));
  } else if (req.mode === "navigate" && isSavedPage(url)) {
    event.respondWith(networkFirst(req));
  } else if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(() => offlinePage()));
  }
}

function isSavedPage(url) {
  return url.pathname === "/threads" || /^\/threads\/[A-Za-z0-9_-]+$/.test(url.pathname);
}

async function cacheFirst(req) {
  const hit = await caches.match(req, { cacheName: SHELL_CACHE });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && new URL(req.url).searchParams.has("v")) {
    const cache = await caches.open(SHELL_CACHE);
    await cache.put(req, res.clone());
  }
  return res;
}

async function networkFirst(req) {
  try {
    const res = await fetch(req);
    if (res.ok && !res.redirected) await savePage(req, res.clone());
    return res;
  } catch (err) {
    const hit = await caches.match(req, { cacheName: PAGE_CACHE });
    return hit ? markSavedCopy(hit) : offlinePage();
  }
}

async function savePage(req, res) {
  const cache = await caches.open(PAGE_CACHE);
  const key = new Request(new URL(req.url).pathname);
  await cache.delete(key); // re-insert so the key order is "least recently viewed first"
  await cache.put(key, res);
  const keys = await cache.keys();
  const extra = keys.filter((k) => new URL(k.url).pathname !== "/threads");
  for (const old of extra.slice(0, Math.max(0, extra.length - (PAGES_MAX - 1)))) {
    await cache.delete(old);
  }
}

async function markSavedCopy(res) {
  const html = await res.text();
  const marked = html.replace("<body ", '<body data-saved-copy="1" ');
  return new Response(marked, { headers: { "Content-Type": "text/html; charset=utf-8" } });
}

async function offlinePage() {
  return (await caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE })) || Response.error();
}

async function onMessage(data) {
  if (data.type === "signed-out") {
    await caches.delete(PAGE_CACHE);
    await Outbox.clear();
  } else if (data.type === "flush-outbox") {
    await flushOutbox();
  }
}

// Background Sync: deliver the outbox even when no page is open. The server stores a message
// once per client_id, so a page flushing the same item at the same time is harmless.
async function flushOutbox() {
  for (const item of await Outbox.all()) {
    if (item.state === "failed") continue;
    const res = await fetch("/api/v1/threads/" + encodeURIComponent(item.thread) + "/messages", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": item.csrf },
      body: JSON.stringify({ body: item.body, client_id: item.client_id }),
    });
    if (res.ok) {
      await Outbox.remove(item.client_id);
    } else if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 429) {
      const data = await res.json().catch(() => ({}));
      await Outbox.fail(item.client_id, (data.error && data.error.message) || "HTTP " + res.status);
    } else {
      throw new Error("outbox: HTTP " + res.status + ", retry later"); // Background Sync retries
    }
  }
  const windows = await self.clients.matchAll({ type: "window" });
  for (const w of windows) w.postMessage({ type: "outbox-flushed" });
}
