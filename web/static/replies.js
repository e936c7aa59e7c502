// Saved replies in the composer (staff only): "/" as the first character, or "/words", lists
// the employee's saved replies (server/views/replies.py fills them in for this thread); a
// choice replaces the text. The server decides what may be listed; this only shows it.
(function () {
  "use strict";
  if (document.body.dataset.staff !== "1") return;
  const form = document.getElementById("composer");
  const input = document.getElementById("body");
  const thread = document.getElementById("thread");
  const script = document.querySelector("script[data-label-list]");
  if (!form || !input || !thread) return;
  const SEARCH_DELAY_MS = 120; // one request per pause in typing, not per key

  const list = document.createElement("div");
  list.id = "reply-choices";
  list.className = "reply-choices";
  list.setAttribute("role", "listbox");
  if (script) list.setAttribute("aria-label", script.dataset.labelList);
  list.hidden = true;
  form.insertBefore(list, input);

  let asked = 0; // the newest search: older answers arriving late are dropped
  let timer = 0;

  function command() {
    const match = /^\/([^\n]*)$/.exec(input.value);
    return match ? match[1].trim() : null;
  }

  function hide() {
    list.hidden = true;
    list.replaceChildren();
    asked += 1;
  }

  function choices() {
    return Array.from(list.querySelectorAll(".reply-choice"));
  }

  async function search(words) {
    const mine = ++asked;
    const url = "/desk/replies/search?q=" + encodeURIComponent(words) +
      "&thread=" + encodeURIComponent(thread.dataset.thread);
    let response;
    try {
      response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    } catch (err) {
      return; // offline: the composer still works, without the list
    }
    if (mine !== asked || command() === null) return;
    if (!response.ok) {
      hide();
      return;
    }
    list.innerHTML = await response.text();
    list.hidden = false;
  }

  function pick(choice) {
    input.value = choice.dataset.text;
    hide();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    input.dispatchEvent(new Event("input", { bubbles: true })); // size, counter, typing
  }

  input.addEventListener("input", () => {
    const words = command();
    window.clearTimeout(timer);
    if (words === null) {
      if (!list.hidden) hide();
      return;
    }
    timer = window.setTimeout(() => search(words), SEARCH_DELAY_MS);
  });

  list.addEventListener("click", (e) => {
    const choice = e.target.closest(".reply-choice");
    if (choice) pick(choice);
  });

  // Capture on the form: the composer's own Enter-sends handler must not send "/words".
  form.addEventListener("keydown", (e) => {
    if (list.hidden || e.isComposing) return;
    const all = choices();
    const at = all.indexOf(document.activeElement);
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      hide();
      input.focus();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!all.length) return;
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : at + step;
      if (next < 0 || next >= all.length) input.focus();
      else all[next].focus();
    } else if (e.key === "Enter" && !e.shiftKey) {
      const choice = at >= 0 ? all[at] : e.target === input ? all[0] : null;
      if (!choice) return;
      e.preventDefault();
      e.stopPropagation();
      pick(choice);
    }
  }, true);

  form.addEventListener("submit", hide);
})();
