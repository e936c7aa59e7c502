// Photos and files in the composer (issue 15): what was picked (the phone offers camera and
// library), dropped or pasted comes here (app.js hands it over and loads this file with the first
// one: most visits send none). Each image is shrunk on the device, then uploaded with a progress
// bar while the person writes the caption. app.js takes the tray's files with the message
// (DreiklangAttach.take) and sends the message once every file is stored; what could not be
// uploaded yet (no network) goes into the outbox with the message and is uploaded from there
// (outbox.js: Outbox.upload). Every text shown comes from the tray's data-label-* attributes
// (thread.html), translated.
/* global Outbox */
(() => {
  "use strict";
  const threadEl = document.getElementById("thread");
  const tray = document.getElementById("attach-tray");
  if (!threadEl || !tray || typeof Outbox === "undefined") return;
  const input = document.getElementById("body");
  const size = window.dreiklangFileSize; // app.js: 1.2 MB in the device's language
  const labels = tray.dataset;
  const threadId = threadEl.dataset.thread;

  const MAX_SIDE_PX = 2048; // sharp on any phone screen, also zoomed in twice; the server keeps it
  // JPEG quality 0.8: a 12-megapixel photo becomes ~0.3–0.6 MB instead of 3–5 MB, so a phone on a
  // small data plan (or one bar of 3G) sends it in seconds; compression artefacts only become
  // visible on a meter's display text below about 0.7.
  const JPEG_QUALITY = 0.8;
  const SHRINKABLE = new Set(["image/jpeg", "image/png", "image/webp"]); // what a canvas decodes
  // (GIFs keep their animation for the server to judge; HEIC: browsers can't decode it, the
  // server converts it.)
  const PREVIEWABLE = /^image\/(jpeg|png|webp|gif|avif|bmp)$/;
  const TYPES_BY_EXTENSION = { heic: "image/heic", heif: "image/heif" }; // browsers often say ""
  const MAX_FILES = Number(tray.dataset.maxFiles) || 10;
  const MAX_BYTES = (Number(tray.dataset.maxMb) || 25) * 1024 * 1024;

  const files = []; // the tray, in display order: see add()

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (e) {
      return "";
    }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function typeOf(file) {
    if (file.type) return file.type;
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    return TYPES_BY_EXTENSION[ext] || "application/octet-stream";
  }

  // -- shrinking ------------------------------------------------------------------------

  function hasAlpha(ctx, w, h) {
    const data = ctx.getImageData(0, 0, w, h).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] < 255) return true;
    return false;
  }

  function renamed(name, type) {
    const stem = name.replace(/\.[^.]*$/, "") || "photo";
    return stem + (type === "image/png" ? ".png" : ".jpg");
  }

  // Shrink an image to MAX_SIDE_PX, turned upright (the EXIF orientation is applied, and the
  // EXIF itself, GPS included, is not carried over); null: upload the original as it is.
  async function shrink(file, type) {
    if (!SHRINKABLE.has(type) || typeof createImageBitmap !== "function") return null;
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, MAX_SIDE_PX / Math.max(bitmap.width, bitmap.height));
    const w = Math.max(1, Math.round(bitmap.width * scale));
    const h = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: type !== "image/jpeg" });
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, w, h);
    bitmap.close();
    // A logo or screenshot with transparency would get a black background as a JPEG.
    const out = type !== "image/jpeg" && hasAlpha(ctx, w, h) ? "image/png" : "image/jpeg";
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, out, JPEG_QUALITY));
    canvas.width = canvas.height = 0; // give the pixels back at once: phones have little memory
    if (!blob) return null;
    if (scale === 1 && blob.size >= file.size) return null; // already small: the original is best
    return { blob, type: out, name: renamed(file.name, out) };
  }

  // -- the tray -------------------------------------------------------------------------

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const STATE_LABELS = {
    shrinking: "labelShrinking",
    uploading: "labelUploading",
    ready: "labelReady",
    waiting: "labelWaiting",
    failed: "labelFailed",
  };

  function row(f) {
    const li = el("li", "tray-item");
    let preview;
    if (f.preview) {
      preview = el("img", "tray-thumb");
      preview.src = f.preview;
      preview.alt = "";
    } else {
      preview = el("span", "tray-icon");
      preview.innerHTML = window.dreiklangFileIcon;
    }
    const info = el("div", "tray-info");
    const name = el("span", "tray-name", f.name);
    const meta = el("span", "tray-meta");
    const sizeEl = el("span", "tray-size", size(f.size));
    const state = el("span", "tray-state");
    meta.append(sizeEl, " · ", state);
    const bar = el("progress", "tray-progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", labels.labelProgress.replace("{name}", f.name));
    const error = el("p", "tray-error");
    error.setAttribute("role", "alert");
    info.append(name, meta, bar, error);
    const actions = el("div", "tray-actions");
    const retry = el("button", "tray-retry", labels.labelRetry);
    retry.type = "button";
    retry.addEventListener("click", () => startUpload(f));
    const remove = el("button", "tray-remove", "✕");
    remove.type = "button";
    remove.setAttribute("aria-label", labels.labelRemove);
    remove.title = labels.labelRemove + ": " + f.name;
    remove.addEventListener("click", () => removeFile(f));
    actions.append(retry, remove);
    li.append(preview, info, actions);
    f.row = { li, sizeEl, state, bar, error };
    return li;
  }

  function show(f) {
    const r = f.row;
    r.li.dataset.state = f.state;
    r.state.textContent = labels[STATE_LABELS[f.state]];
    r.sizeEl.textContent = size(f.size);
    r.error.textContent = f.state === "failed" ? f.error : "";
    r.bar.hidden = f.state !== "uploading";
  }

  function changed() {
    tray.hidden = files.length === 0;
    // A message with files may go without a caption.
    input.required = files.length === 0;
  }

  function add(list) {
    const slot = document.getElementById("form-error");
    for (const file of list) {
      if (files.length >= MAX_FILES) {
        if (slot) {
          slot.innerHTML = '<p class="error" role="alert"></p>';
          slot.firstChild.textContent = labels.labelTooMany.replace("{n}", String(MAX_FILES));
        }
        break;
      }
      const type = typeOf(file);
      const before = file.restored; // from a message that was not sent: same file, same id
      const f = {
        client_id: before ? before.client_id : newId(),
        original: file,
        name: file.name || "file",
        type,
        size: file.size,
        blob: file,
        id: null,
        state: "shrinking",
        error: "",
        preview: PREVIEWABLE.test(type) ? URL.createObjectURL(file) : null,
      };
      files.push(f);
      tray.append(row(f));
      show(f);
      if (file.size > MAX_BYTES) {
        // Refused here rather than after a long upload the server would refuse anyway.
        f.ready = Promise.resolve();
        fail(f, labels.labelTooLarge.replace("{n}", String(Math.round(MAX_BYTES / 1024 / 1024))));
        continue;
      }
      f.ready = (before ? Promise.resolve(null) : shrink(file, type))
        .catch(() => null) // not decodable here: the server decides what it is
        .then((small) => {
          if (small) Object.assign(f, { blob: small.blob, type: small.type, name: small.name, size: small.blob.size });
        });
      f.ready.then(() => files.includes(f) && startUpload(f));
    }
    changed();
  }

  function fail(f, message) {
    f.state = "failed";
    f.error = message;
    show(f);
  }

  async function startUpload(f) {
    f.state = "uploading";
    f.error = "";
    show(f);
    f.row.bar.removeAttribute("value"); // indeterminate until the first progress report
    const answer = await Outbox.upload(threadId, f, csrf(), (loaded, total) => {
      f.row.bar.value = total ? loaded / total : 0;
    });
    if (answer.ok) {
      f.id = answer.attachment.id;
      f.state = "ready";
    } else if (Outbox.refused(answer)) {
      fail(f, answer.message);
      return;
    } else {
      f.state = "waiting"; // no network, or the server stumbled: the outbox tries again later
    }
    if (files.includes(f)) show(f);
  }

  function removeFile(f) {
    const i = files.indexOf(f);
    if (i < 0) return;
    files.splice(i, 1);
    f.row.li.remove();
    if (f.preview) URL.revokeObjectURL(f.preview);
    changed();
    input.focus();
  }

  // -- what app.js asks -------------------------------------------------------------------

  window.DreiklangAttach = {
    add,
    count: () => files.length,
    // A file the server refused blocks the message until it is retried or removed: say so.
    blocked() {
      const bad = files.find((f) => f.state === "failed");
      if (!bad) return false;
      const slot = document.getElementById("form-error");
      if (slot) {
        slot.innerHTML = '<p class="error" role="alert"></p>';
        slot.firstChild.textContent = labels.labelBlocked;
      }
      bad.row.li.querySelector(".tray-retry").focus();
      return true;
    },
    // Hand the tray's files to a message and empty the tray. Each comes with `ready` (its
    // shrinking is done) and `preview` (an object URL for images: the pending message's thumb).
    take() {
      const taken = files.splice(0, files.length);
      for (const f of taken) f.row.li.remove();
      changed();
      return taken;
    },
    // A message that was not sent, back into the composer ("Edit"): its files with it.
    restore(list) {
      const kept = [];
      for (const f of list) {
        const file = new File([f.blob], f.name, { type: f.type });
        kept.push(Object.assign(file, { restored: f }));
      }
      // Uploaded again under their ids: stored ones answer at once, a refused one says why.
      add(kept);
    },
  };
})();
