// Feedback for every form that posts: while a request runs its buttons are disabled and the one
// pressed says so; offline (or when the request cannot reach the server) a message next to the
// button says it needs a connection, and everything typed stays in the form.
// The composer is not handled here: app.js keeps messages in the outbox and sends them later.
(() => {
  "use strict";
  const script = document.currentScript;
  const BUSY = (script && script.dataset.labelBusy) || "Please wait…";
  const OFFLINE = (script && script.dataset.labelOffline) || "This needs a connection.";

  function buttonsOf(el) {
    if (el.matches("button, input[type=submit]")) return [el];
    return [...el.querySelectorAll("button, input[type=submit]")].filter((b) => b.type !== "button" || b.hasAttribute("hx-post"));
  }

  function busy(el, pressed) {
    el.setAttribute("aria-busy", "true");
    clearOffline(el);
    for (const b of buttonsOf(el)) {
      if (b.disabled) continue;
      b.disabled = true;
      b.dataset.busy = "1";
    }
    const label = pressed || buttonsOf(el).find((b) => b.type === "submit") || null;
    if (label && label.tagName === "BUTTON" && !("idleLabel" in label.dataset)) {
      label.dataset.idleLabel = label.textContent;
      label.textContent = BUSY;
    }
  }

  function idle(el) {
    el.removeAttribute("aria-busy");
    for (const b of buttonsOf(el)) {
      if (!b.dataset.busy) continue;
      b.disabled = false;
      delete b.dataset.busy;
      if ("idleLabel" in b.dataset) {
        b.textContent = b.dataset.idleLabel;
        delete b.dataset.idleLabel;
      }
    }
  }

  // Next to the button pressed (or at the end of the form), once.
  function showOffline(el, pressed) {
    clearOffline(el);
    const note = document.createElement("p");
    note.className = "form-offline";
    note.setAttribute("role", "alert");
    note.textContent = OFFLINE;
    const anchor = pressed || buttonsOf(el).at(-1) || el;
    if (anchor === el) el.append(note);
    else anchor.insertAdjacentElement("afterend", note);
    el.dataset.offlineNote = "1";
  }

  function clearOffline(el) {
    if (!el.dataset.offlineNote) return;
    delete el.dataset.offlineNote;
    const scope = el.matches("form") ? el : el.parentElement;
    for (const note of scope ? scope.querySelectorAll(".form-offline") : []) note.remove();
  }

  function isOffline() {
    return navigator.onLine === false;
  }

  // -- htmx forms and buttons ---------------------------------------------------------------
  function pressedOf(detail) {
    const trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    return (trigger && trigger.submitter) || (detail.elt.matches("button") ? detail.elt : null);
  }

  document.addEventListener("htmx:beforeRequest", (e) => {
    const { elt } = e.detail;
    if (e.detail.requestConfig && e.detail.requestConfig.verb === "get") return;
    if (isOffline()) {
      e.preventDefault(); // htmx sends nothing
      showOffline(elt, pressedOf(e.detail));
      return;
    }
    busy(elt, pressedOf(e.detail));
  });
  document.addEventListener("htmx:afterRequest", (e) => idle(e.detail.elt));
  document.addEventListener("htmx:sendError", (e) => showOffline(e.detail.elt, pressedOf(e.detail)));

  // -- plain forms (sign-in, sign-up, settings…): the page is replaced when the answer comes --
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (e.defaultPrevented || form.hasAttribute("hx-post") || (form.method || "").toLowerCase() !== "post") return;
    if (isOffline()) {
      e.preventDefault();
      showOffline(form, e.submitter || null);
      return;
    }
    // After the browser has read the form: a disabled button's name and value would be left out.
    setTimeout(() => busy(form, e.submitter || null), 0);
  });
  window.addEventListener("online", () => {
    for (const el of document.querySelectorAll("[data-offline-note]")) clearOffline(el);
  });
  // Back from the next page (bfcache): the form must work again.
  window.addEventListener("pageshow", () => {
    for (const form of document.querySelectorAll("form[aria-busy]")) idle(form);
  });
})();
