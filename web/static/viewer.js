// The full-screen photo viewer (issue 15): a tap on a thumbnail in a thread opens that message's
// photos in PhotoSwipe (vendor/photoswipe-5.4.4.*): swipe between them and pinch to zoom on a
// phone, arrow keys and Esc at a desk. PhotoSwipe's script and stylesheet (~60 kB) load on the
// first tap, not with the thread: a thread opens as fast without them, and only app.css may
// hold up its first render. Both are in the offline shell (server/assets.py), so the viewer
// itself opens without a network too. The labels come from this script tag (thread.html).
(() => {
  "use strict";
  const script = document.currentScript;
  const labels = script.dataset;
  let loading = null;

  function stylesheet(href) {
    return new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      link.onload = link.onerror = resolve; // without it the viewer works, just plainer
      document.head.append(link);
    });
  }

  function photoSwipe() {
    if (!loading) {
      loading = Promise.all([import(labels.module), stylesheet(labels.css)]).then(([m]) => m.default);
      loading.catch(() => (loading = null)); // offline before the shell was saved: try next time
    }
    return loading;
  }

  function slide(link) {
    const img = link.querySelector("img");
    let width = Number(link.dataset.width);
    let height = Number(link.dataset.height);
    if (!(width > 0 && height > 0) && img) {
      // Dimensions unknown: the thumbnail's shape, at a size PhotoSwipe fits to the screen.
      width = img.naturalWidth || Number(img.getAttribute("width")) || 1;
      height = img.naturalHeight || Number(img.getAttribute("height")) || 1;
    }
    return { src: link.href, width, height, alt: img ? img.alt : "", msrc: img ? img.currentSrc : undefined, element: link };
  }

  document.addEventListener("click", async (e) => {
    const link = e.target instanceof Element ? e.target.closest("#messages a.att-open") : null;
    // A new tab or a download (modifier keys, middle button) stays the browser's.
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    const links = [...(link.closest(".attachments") || link).querySelectorAll("a.att-open")];
    let PhotoSwipe;
    try {
      PhotoSwipe = await photoSwipe();
    } catch (err) {
      location.href = link.href; // the photo by itself, as the link says
      return;
    }
    const viewer = new PhotoSwipe({
      dataSource: links.length ? links.map(slide) : [slide(link)],
      index: Math.max(0, links.indexOf(link)),
      closeTitle: labels.labelClose,
      zoomTitle: labels.labelZoom,
      arrowPrevTitle: labels.labelPrev,
      arrowNextTitle: labels.labelNext,
      errorMsg: labels.labelError,
      indexIndicatorSep: " / ",
      bgOpacity: 0.92,
      returnFocus: true, // back to the thumbnail that was tapped
    });
    viewer.init();
  });
})();
