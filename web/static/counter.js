// Long texts: a counter near the limit, and a refusal instead of a silent cut. Any textarea with
// data-max-chars (the composer, a new thread, an edit) gets it, also ones htmx swaps in later.
// app.js asks LengthLimit.check(input) before it sends.
const LengthLimit = (() => {
  "use strict";
  const COUNT_FROM = 0.9; // the counter shows from 9,000 of 10,000 characters

  // Characters as the server counts them (code points, without outer whitespace).
  function charCount(text) {
    return [...text.trim()].length;
  }

  // Show "9,412 / 10,000" from COUNT_FROM of the limit; past it, say why it cannot be sent
  // and make the form invalid, so neither the button, Enter nor htmx sends it.
  function checkLength(input) {
    const limit = Number(input.dataset.maxChars);
    if (!limit) return true;
    const count = charCount(input.value);
    const over = count > limit;
    const slot = counterFor(input);
    const number = (n) => n.toLocaleString(document.documentElement.lang || undefined);
    const tooLong = input.dataset.labelTooLong || "";
    slot.hidden = count < limit * COUNT_FROM;
    slot.classList.toggle("over", over);
    slot.textContent = number(count) + " / " + number(limit) + (over ? " · " + tooLong : "");
    input.setCustomValidity(over ? tooLong : "");
    if (over) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return !over;
  }

  function checkLengths(root) {
    if (!root.querySelectorAll) return;
    for (const input of root.querySelectorAll("textarea[data-max-chars]")) checkLength(input);
  }

  function counterFor(input) {
    const id = input.id + "-count";
    let slot = document.getElementById(id);
    if (!slot) {
      slot = document.createElement("p");
      slot.id = id;
      slot.className = "counter";
      slot.hidden = true;
      input.insertAdjacentElement("afterend", slot);
      const described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? described + " " + id : id);
    }
    return slot;
  }

  document.addEventListener("DOMContentLoaded", () => checkLengths(document));
  document.addEventListener("htmx:afterSwap", (e) => checkLengths(e.target));
  document.addEventListener("input", (e) => {
    if (e.target.matches && e.target.matches("textarea[data-max-chars]")) checkLength(e.target);
  });
  return { check: checkLength };
})();
