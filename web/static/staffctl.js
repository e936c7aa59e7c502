// Staff controls on messages that every viewer shares one fragment of (server/events/
// messages.py renders a message once for all): added here, on staff's pages only. The server
// checks every request itself; this only offers the button.
(function () {
  "use strict";
  if (document.body.dataset.staff !== "1") return;
  const list = document.getElementById("messages");
  const answer = document.getElementById("official-answer");
  if (!list || !answer) return;
  const label = answer.dataset.labelMark;
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

  function offer(msg) {
    offerHidden(msg);
    if (!msg.matches(".msg.by-staff:not(.staff-note):not(.deleted):not(.pending)")) return;
    if (msg.querySelector(".mark-answer")) return;
    const id = msg.id.replace(/^msg-/, "");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link mark-answer";
    button.textContent = label;
    button.setAttribute("hx-post", "/messages/" + id + "/answer");
    button.setAttribute("hx-target", "#official-answer");
    button.setAttribute("hx-swap", "outerHTML");
    msg.appendChild(button);
    if (window.htmx) window.htmx.process(button);
  }

  // A button makes a message taller: a reader at the newest message stays at it.
  function offerAll() {
    const root = document.documentElement;
    const atEnd = window.innerHeight + window.scrollY >= root.scrollHeight - 2;
    const before = root.scrollHeight;
    for (const msg of list.querySelectorAll(".msg")) offer(msg);
    if (atEnd && root.scrollHeight !== before) window.scrollTo(0, root.scrollHeight);
  }

  new MutationObserver(offerAll).observe(list, { childList: true });
  document.addEventListener("DOMContentLoaded", offerAll);
  offerAll();
})();
