// The customer profile (staff): a refused tag or note (a 400 with HX-Retarget, see
// server/views/common.py error_page) is shown in the page's #form-error slot; htmx would
// otherwise drop an error answer silently.
(function () {
  "use strict";
  const profile = document.querySelector(".customer");
  if (!profile) return;
  const slot = document.getElementById("form-error");
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    const xhr = e.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("HX-Retarget")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  // A colleague changed the tags or notes: fetch that section (a note being typed is kept).
  document.body.addEventListener("dreiklang:customer", (e) => {
    const f = e.detail;
    if (f.customer !== profile.dataset.customer || !window.htmx) return;
    const section = f.section === "tags" ? "#customer-tags" : "#customer-notes";
    const typing = f.section === "notes" && document.getElementById("note-body").value;
    const url = location.pathname + "?section=" + encodeURIComponent(f.section);
    window.htmx.ajax("GET", url, { target: section, swap: "outerHTML" }).then(() => {
      if (typing) document.getElementById("note-body").value = typing;
    });
  });
  // A change that went through clears the last refusal.
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (slot && e.target !== slot && e.detail.xhr.status < 400) slot.textContent = "";
  });
})();
