// Staff controls on messages that every viewer shares one fragment of (server/events/
// messages.py renders a message once for all): added here, on staff's pages only. The server
// checks every request itself; this only offers the button. (Accepting an answer, for staff
// and the asker alike, is in community.js.)
(function () {
  "use strict";
  if (document.body.dataset.staff !== "1") return;
  const list = document.getElementById("messages");
  if (!list) return;
  const showLabel = list.dataset.labelShowHidden;

  // A hidden message carries no text in any frame: staff fetch it on demand.
  function offerHidden(msg) {
    if (!msg.matches(".msg.hidden-msg") || msg.querySelector(".show-hidden")) return;
    const id = msg.id.replace(/^msg-/, "");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link show-hidden";
    button.textContent = showLabel;
    button.setAttribute("hx-get", "/messages/" + id + "/hidden");
    button.setAttribute("hx-swap", "outerHTML");
    msg.appendChild(button);
    if (window.htmx) window.htmx.process(button);
  }

  // A button makes a message taller: a reader at the newest message stays at it.
  function offerAll() {
    const root = document.documentElement;
    const atEnd = window.innerHeight + window.scrollY >= root.scrollHeight - 2;
    const before = root.scrollHeight;
    for (const msg of list.querySelectorAll(".msg")) offerHidden(msg);
    if (atEnd && root.scrollHeight !== before) window.scrollTo(0, root.scrollHeight);
  }

  new MutationObserver(offerAll).observe(list, { childList: true });
  document.addEventListener("DOMContentLoaded", offerAll);
  offerAll();
})();
