// Community answers on a thread page: the "Accept" / "Mark as answer" buttons, and "Helpful"
// counts kept across a message's live replacements. Every viewer shares one fragment of a
// message (server/events/messages.py), so what depends on the viewer is added here; the server
// checks every request itself, this only offers the button.
(function () {
  "use strict";
  const body = document.body;
  const me = body.dataset.me;
  const staff = body.dataset.staff === "1";
  const list = document.getElementById("messages");
  const threadEl = document.getElementById("thread");
  if (!me || !list || !threadEl) return;

  // The answer section says who asked, whether it is a public question, which message is the
  // question itself and which one is accepted (server/events/desk.py, _answer.html).
  function answerInfo() {
    const el = document.getElementById("official-answer");
    return el ? el.dataset : null;
  }

  function mayAccept(msg, info) {
    if (!msg.matches(".msg:not(.staff-note):not(.deleted):not(.hidden-msg):not(.held):not(.pending)")) return false;
    if (msg.id === "msg-" + info.first) return false;
    if (staff) return info.question === "1" || msg.classList.contains("by-staff");
    return info.question === "1" && info.asker === me && msg.dataset.author !== me;
  }

  function offer(msg, info) {
    // The question itself is no reply: nothing to find helpful (a live frame has the button).
    const helpful = msg.id === "msg-" + info.first ? msg.querySelector(".helpful") : null;
    if (helpful) helpful.remove();
    let button = msg.querySelector(":scope > .mark-answer");
    if (!mayAccept(msg, info)) {
      if (button) button.remove();
      return;
    }
    const id = msg.id.replace(/^msg-/, "");
    const label = info.answer === id ? info.labelUndo : staff ? info.labelMark : info.labelAccept;
    if (button) {
      if (button.textContent !== label) button.textContent = label;
      return;
    }
    button = document.createElement("button");
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
    const info = answerInfo();
    if (!info) return;
    const root = document.documentElement;
    const atEnd = window.innerHeight + window.scrollY >= root.scrollHeight - 2;
    const before = root.scrollHeight;
    for (const msg of list.querySelectorAll(":scope > .msg")) offer(msg, info);
    if (atEnd && root.scrollHeight !== before) window.scrollTo(0, root.scrollHeight);
  }

  // A live message frame (an edit, a moderator's decision) carries no helpful count and no
  // mark of this viewer (data-unknown): keep the ones the page showed.
  function keepHelpful(records) {
    for (const record of records) {
      for (const gone of record.removedNodes) {
        if (gone.nodeType !== 1 || !gone.id) continue;
        const kept = gone.querySelector(".helpful:not([data-unknown])");
        const now = document.getElementById(gone.id);
        const fresh = now && now !== gone ? now.querySelector(".helpful[data-unknown]") : null;
        if (kept && fresh) fresh.replaceWith(kept);
      }
    }
  }

  new MutationObserver((records) => {
    keepHelpful(records);
    offerAll();
  }).observe(list, { childList: true });
  // The answer section is replaced when the answer changes: labels follow it (live, or after
  // htmx settled its own answer). htmx first gives a swapped-in element the old one's
  // attributes and puts the new ones back when it settles — attribute changes, not a new
  // child, and its afterSettle event may fire on a node a live frame has replaced meanwhile.
  new MutationObserver(offerAll).observe(threadEl, { childList: true });
  new MutationObserver(offerAll).observe(threadEl, {
    subtree: true,
    attributes: true,
    attributeFilter: ["data-answer", "data-asker", "data-question", "data-first"],
  });
  document.addEventListener("htmx:afterSettle", offerAll);
  // Belt and braces: the answer's response and its live frame race, and htmx may settle on a
  // node the frame already replaced (its events then reach nobody). Look again shortly after a
  // tap on Accept/Undo; the labels only ever follow what the page shows.
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest(".mark-answer")) return;
    for (const ms of [300, 1000, 3000]) setTimeout(offerAll, ms);
  });
  document.addEventListener("DOMContentLoaded", offerAll);
  offerAll();
})();
