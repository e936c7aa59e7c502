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
    // ignoreVary: pages vary on Cookie and Accept-Language, which the saved key has not.
    const hit = await caches.match(req, { cacheName: PAGE_CACHE, ignoreVary: true });
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
    await caches.delete("dk-meta");
    await Outbox.clear();
  } else if (data.type === "flush-outbox") {
    await flushOutbox();
  }
}

// Background Sync: deliver the outbox even when no page is open. The server stores a message
// once per client_id, so a page flushing the same item at the same time is harmless. Items come
// in the order they were written and each waits for the answer to the one before (a page does
// the same over its socket), so they are stored in that order; one that cannot go yet stops
// the rest until the next sync.
async function flushOutbox() {
  for (const item of await Outbox.all()) {
    if (item.state === "failed") continue;
    const refusal = await uploadFiles(item);
    if (refusal) {
      await Outbox.fail(item.client_id, refusal);
      continue;
    }
    const res = await fetch("/api/v1/threads/" + encodeURIComponent(item.thread) + "/messages", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": item.csrf },
      body: JSON.stringify({
        body: item.body, client_id: item.client_id, audience: item.audience || "all",
        ...(item.files && item.files.length ? { attachments: item.files.map((f) => f.id) } : {}),
      }),
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

// Upload the item's files the server does not have yet, one at a time, keeping each new id in
// the item at once (a later flush does not upload it again; the same X-Client-Id makes a
// repeated upload harmless anyway). Returns the server's reason if it refused a file; throws
// when one cannot go yet, so Background Sync tries again later.
async function uploadFiles(item) {
  for (const file of (item.files || []).filter((f) => !f.id)) {
    const answer = await Outbox.upload(item.thread, file, item.csrf);
    if (answer.ok) {
      file.id = answer.attachment.id;
      await Outbox.update(item.client_id, (it) => ({
        ...it,
        files: it.files.map((f) => (f.client_id === file.client_id ? { ...f, id: file.id } : f)),
      }));
    } else if (Outbox.refused(answer)) {
      return file.name + ": " + answer.message;
    } else {
      throw new Error("outbox: upload HTTP " + answer.status + ", retry later");
    }
  }
  return null;
}

// -- Web Push ---------------------------------------------------------------------------
self.addEventListener("push", (event) => event.waitUntil(showPush(event)));
self.addEventListener("notificationclick", (event) => event.waitUntil(openFromNotification(event)));
self.addEventListener("pushsubscriptionchange", (event) => event.waitUntil(resubscribe(event)));

// Every push shows a notification: a silent push makes browsers withdraw the permission.
async function showPush(event) {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (err) {
    data = {};
  }
  if (!data || typeof data !== "object") data = {}; // "null" or "3" is JSON too
  const title = data.title || "Dreiklang";
  const options = {
    body: data.body || "",
    icon: SHELL.find((u) => u.startsWith("/static/icons/icon-192.png")),
    badge: SHELL.find((u) => u.startsWith("/static/icons/badge-96.png")),
    tag: data.tag || "dreiklang",
    renotify: Boolean(data.tag),
    data: { url: data.url || "/threads" },
  };
  // A photo's thumbnail where the platform shows one (Android); only our own file route.
  if (typeof data.image === "string" && data.image.startsWith("/files/")) options.image = data.image;
  if (typeof data.badge === "number" && self.navigator.setAppBadge) {
    await (data.badge ? self.navigator.setAppBadge(data.badge) : self.navigator.clearAppBadge()).catch(() => undefined);
  }
  await self.registration.showNotification(title, options);
}

async function openFromNotification(event) {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/threads", self.location.origin);
  if (url.origin !== self.location.origin) return;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const path = url.pathname;
  for (const w of windows) {
    if (new URL(w.url).pathname === path && "focus" in w) return w.focus();
  }
  for (const w of windows) {
    if ("navigate" in w && "focus" in w) {
      await w.focus();
      return w.navigate(url.href);
    }
  }
  return self.clients.openWindow(url.href);
}

// The push service replaced our subscription: subscribe again and tell the server, which
// swaps the old device for the new one and keeps the name the person gave it.
async function resubscribe(event) {
  const old = event.oldSubscription;
  const key = (old && old.options && old.options.applicationServerKey) || (await fetchKey());
  const fresh = event.newSubscription || (await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  await fetch("/push/devices", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "x-csrftoken": await storedCsrf() },
    body: JSON.stringify({ ...fresh.toJSON(), replaces: old ? old.endpoint : null, language: self.navigator.language }),
  });
}

async function fetchKey() {
  const res = await fetch("/push/key");
  const { public_key: key } = await res.json();
  const raw = atob(key.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((key.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// Pages keep the CSRF token here (pwa.js) so the worker can make signed-in requests.
async function storedCsrf() {
  const hit = await caches.match("/__csrf", { cacheName: "dk-meta" });
  return hit ? hit.text() : "";
}
