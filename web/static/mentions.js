// @mentions in the composer: typing "@" and the start of a name lists the people and teams who
// can read this thread (server/views/people.py asks server/mentions.py); a choice puts their
// @handle in the text. The server decides who may be listed, and refuses a mention of someone
// who could not read the message; this only offers.
(function () {
  "use strict";
  const form = document.getElementById("composer");
  const input = document.getElementById("body");
  const thread = document.getElementById("thread");
  if (!form || !input || !thread) return;
  const ASK_DELAY_MS = 120; // one request per pause in typing, not per key
  const TYPED = /(?:^|[^\w@])@([\w.-]{0,40})$/u; // an @ and what follows it, up to the caret

  const list = document.createElement("ul");
  list.id = "mention-list";
  list.className = "mention-list";
  list.setAttribute("role", "listbox");
  const labels = document.currentScript ? document.currentScript.dataset : {};
  list.setAttribute("aria-label", labels.labelList || "@");
  list.hidden = true;
  form.insertBefore(list, input);

  let asked = 0; // the newest question: older answers arriving late are dropped
  let timer = 0;
  let chosen = -1;

  function typed() {
    const match = TYPED.exec(input.value.slice(0, input.selectionStart));
    return match ? match[1] : null;
  }

  function audience() {
    const picked = form.querySelector("input[name=audience]:checked");
    return picked ? picked.value : "all";
  }

  function hide() {
    list.hidden = true;
    list.replaceChildren();
    chosen = -1;
    asked += 1;
  }

  function options() {
    return Array.from(list.querySelectorAll("[role=option]"));
  }

  function select(index) {
    const all = options();
    chosen = all.length ? (index + all.length) % all.length : -1;
    all.forEach((option, i) => option.setAttribute("aria-selected", String(i === chosen)));
    if (chosen >= 0) all[chosen].scrollIntoView({ block: "nearest" });
  }

  async function ask(prefix) {
    const mine = ++asked;
    const url = "/threads/" + encodeURIComponent(thread.dataset.thread) + "/mentionable?q=" +
      encodeURIComponent(prefix) + "&audience=" + audience();
    let found;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return hide();
      found = await response.json();
    } catch (err) {
      return; // offline: the composer still works, without the list
    }
    if (mine !== asked || typed() === null) return;
    if (!found.length) return hide();
    list.replaceChildren(...found.map((person) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.dataset.handle = person.handle;
      const button = document.createElement("button");
      button.type = "button";
      button.tabIndex = -1;
      const name = document.createElement("span");
      name.textContent = person.name;
      const handle = document.createElement("span");
      handle.className = "handle";
      handle.textContent = "@" + person.handle;
      button.append(name, " ", handle);
      if (person.staff) {
        const badge = document.createElement("span");
        badge.className = "badge staff-badge";
        badge.textContent = person.team || labels.labelStaff || "Staff";
        button.append(" ", badge);
      }
      item.append(button);
      return item;
    }));
    list.hidden = false;
    select(0);
  }

  function pick(option) {
    const caret = input.selectionStart;
    const before = input.value.slice(0, caret).replace(/@[\w.-]*$/u, "@" + option.dataset.handle + " ");
    input.value = before + input.value.slice(caret);
    hide();
    input.focus();
    input.setSelectionRange(before.length, before.length);
    input.dispatchEvent(new Event("input", { bubbles: true })); // size, counter, typing
  }

  input.addEventListener("input", () => {
    const prefix = typed();
    window.clearTimeout(timer);
    if (prefix === null) {
      if (!list.hidden) hide();
      return;
    }
    timer = window.setTimeout(() => ask(prefix), ASK_DELAY_MS);
  });

  list.addEventListener("click", (e) => {
    const option = e.target.closest("[role=option]");
    if (option) pick(option);
  });

  // Capture on the form: the composer's own Enter-sends handler must not send "@ja".
  form.addEventListener("keydown", (e) => {
    if (list.hidden || e.isComposing) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      hide();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      select(chosen + (e.key === "ArrowDown" ? 1 : -1));
    } else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      const option = options()[chosen];
      if (!option) return;
      e.preventDefault();
      e.stopPropagation();
      pick(option);
    }
  }, true);

  form.addEventListener("submit", hide);
})();
