// Dreiklang notifications on this device: subscribe only after a tap (never on page load),
// explain iOS (only the installed app can receive pushes), keep the CSRF token for the worker.
(() => {
  "use strict";
  const me = document.body.dataset.me;
  if (!me) return;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (e) {
      return "";
    }
  }

  // The service worker re-subscribes by itself (pushsubscriptionchange) and needs the token.
  if (window.caches) {
    caches.open("dk-meta").then((c) => c.put("/__csrf", new Response(csrfToken()))).catch(() => undefined);
  }

  function isIos() {
    return /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }

  function isStandalone() {
    return window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  }

  function keyBytes(key) {
    const raw = atob(key.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((key.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function deviceLabel() {
    const ua = navigator.userAgent;
    const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
    const os = /Android/.test(ua) ? "Android" : isIos() ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
    return os ? browser + " on " + os : browser;
  }

  function say(section, key, extra) {
    const status = document.getElementById("push-status");
    if (status) status.textContent = section.dataset[key] + (extra ? " " + extra : "");
  }

  async function enable(section) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      if (isIos() && !isStandalone()) {
        document.getElementById("push-ios-hint").hidden = false;
        return;
      }
      say(section, "labelUnsupported");
      return;
    }
    say(section, "labelWorking");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say(section, "labelDenied");
      return;
    }
    try {
      const reg = await navigator.serviceWorker.ready;
      const res = await fetch("/push/key", { credentials: "same-origin" });
      const { public_key: key } = await res.json();
      let sub = await reg.pushManager.getSubscription();
      if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      const saved = await fetch("/push/devices", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken() },
        body: JSON.stringify({ ...sub.toJSON(), label: deviceLabel(), language: navigator.language }),
      });
      if (!saved.ok) {
        const data = await saved.json().catch(() => ({}));
        throw new Error((data.error && data.error.message) || "HTTP " + saved.status);
      }
      say(section, "labelOn");
      if (window.htmx) window.htmx.ajax("GET", "/settings/devices", { target: "#devices", swap: "outerHTML" });
    } catch (err) {
      say(section, "labelFailed", err && err.message ? err.message : String(err));
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("#push-enable");
    if (button) enable(document.getElementById("notifications"));
  });

  // Suggest the device's own time zone for quiet hours the first time.
  document.body.addEventListener("htmx:load", (e) => {
    const field = e.target.querySelector && e.target.querySelector("[data-detect-zone]");
    if (field && field.value === "Europe/Berlin") {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) field.placeholder = zone;
    }
    if (e.target.querySelector && e.target.querySelector("#push-ios-hint") && isIos() && !isStandalone()) {
      e.target.querySelector("#push-ios-hint").hidden = false;
    }
  });
})();
