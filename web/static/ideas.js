// Ideas: live vote counts and statuses on the board and the roadmap (`idea` frames on a socket
// opened with ?ideas=1, see app.js), and the vote button of an idea's live panel.
(() => {
  "use strict";
  const root = document.querySelector("[data-ideas]");
  let labels = {};
  try {
    labels = root ? JSON.parse(root.dataset.statusLabels || "{}") : {};
  } catch (err) {
    labels = {};
  }
  const CLOSED = ["done", "declined", "duplicate"];

  // A card's count and status, unless the page already shows a newer one (frames on the
  // board's channel may overtake each other; `seq` orders them per idea).
  document.body.addEventListener("dreiklang:idea", (e) => {
    const f = e.detail;
    const card = document.getElementById("idea-" + f.idea);
    if (!card || Number(card.dataset.seq || 0) >= f.seq) return;
    card.dataset.seq = String(f.seq);
    const count = card.querySelector(".vote-count");
    if (count) count.textContent = String(f.votes);
    const button = card.querySelector("button.vote");
    if (button) button.disabled = CLOSED.includes(f.status);
    const chip = card.querySelector(".idea-status");
    if (chip && labels[f.status]) {
      chip.className = "chip idea-status idea-" + f.status;
      chip.textContent = labels[f.status];
    }
  });

  // A live panel names no viewer: keep this person's own vote form (the very node: a vote of
  // theirs may be on its way and answers into it), with the new count and open or closed.
  document.addEventListener("dreiklang:idea-panel", (e) => {
    const el = e.detail;
    const old = document.getElementById("idea-panel");
    const fresh = el.querySelector(".vote-form");
    const kept = old && old.querySelector(".vote-form");
    if (!fresh || !kept) return;
    const freshButton = fresh.querySelector("button.vote");
    const keptButton = kept.querySelector("button.vote");
    const count = kept.querySelector(".vote-count");
    if (count) count.textContent = fresh.querySelector(".vote-count").textContent;
    if (keptButton && !keptButton.dataset.busy) keptButton.disabled = freshButton.disabled;
    fresh.replaceWith(kept);
  });

  // forms.js shows "Please wait…" in the pressed button and puts back its text alone: after a
  // refused vote, give the button its arrow and count back (a vote that went through is
  // replaced by the answer anyway).
  document.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt;
    if (e.detail.successful || !form.matches || !form.matches(".vote-form")) return;
    const button = form.querySelector("button.vote");
    if (!button || button.querySelector(".vote-count")) return;
    const votes = (button.textContent.match(/\d+/) || ["0"])[0];
    button.innerHTML = '<span class="vote-arrow" aria-hidden="true">▲</span> <span class="vote-count"></span>';
    button.querySelector(".vote-count").textContent = votes;
  });
})();
