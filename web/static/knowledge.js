// Knowledge articles (staff): while an article or its editor is open, a colleague's save shows
// at once (an `article` frame on the socket, server/actions/knowledge.py). The editor keeps
// what was typed; the server refuses a save from an older revision and shows the change.
(function () {
  "use strict";
  const holder = document.querySelector("[data-article]");
  const news = document.getElementById("article-news");
  if (!holder || !news) return;
  const base = Number((document.querySelector("input[name=base]") || {}).value ||
    holder.dataset.revision || 0);
  document.body.addEventListener("dreiklang:article", (e) => {
    const f = e.detail;
    if (f.article !== holder.dataset.article || f.revision <= base) return;
    news.querySelector("span").textContent = news.dataset.labelSaved
      .replace("{name}", f.by).replace("{number}", String(f.revision));
    news.hidden = false;
  });
})();
