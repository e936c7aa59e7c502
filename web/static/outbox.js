// Dreiklang offline outbox: messages written without a connection, kept on the device
// (IndexedDB) until the server acknowledges them. Shared by app.js and the service worker.
// An item: {client_id, thread, body, audience, csrf, created, seq, state: "waiting" | "failed",
// reason, files}. `seq` counts up in the order the items were written: they are sent, stored and
// shown in that order (client ids are random, so their order means nothing). `files` (issue 15):
// the message's attachments in display order, [{client_id, name, type, size, blob, id}], the
// Blob kept in IndexedDB until uploaded; `id` is null until the server stored the file.
// Outbox.upload sends one file; it lives here because the page and the worker both deliver.
/* exported Outbox */
const Outbox = (() => {
  "use strict";
  const DB_NAME = "dreiklang";
  const DB_VERSION = 2; // 1: items by client_id and thread; 2: and by `seq`, the written order
  const STORE = "outbox";
  let opening = null;

  function upgrade(req, oldVersion) {
    const db = req.result;
    const store = oldVersion < 1 ? db.createObjectStore(STORE, { keyPath: "client_id" }) : req.transaction.objectStore(STORE);
    if (oldVersion < 1) store.createIndex("thread", "thread");
    if (oldVersion < 2) {
      store.createIndex("seq", "seq");
      // Items kept by version 1 had no order: give them the order of their `created` times.
      store.getAll().onsuccess = (e) => {
        const items = e.target.result.sort((a, b) => (a.created || 0) - (b.created || 0));
        items.forEach((item, i) => store.put({ ...item, seq: i + 1 }));
      };
    }
  }

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = (e) => upgrade(req, e.oldVersion);
        req.onsuccess = () => {
          const db = req.result;
          // A newer page or worker needs to upgrade: let it, and open again next time.
          db.onversionchange = () => {
            db.close();
            opening = null;
          };
          resolve(db);
        };
        req.onerror = () => {
          opening = null;
          reject(req.error);
        };
        // A tab still running the older app holds the old version open: don't wait for it
        // to close (the page works without the outbox meanwhile); the upgrade runs then.
        req.onblocked = () => {
          opening = null;
          reject(new Error("outbox: an older tab holds the database"));
        };
      });
    }
    return opening;
  }

  async function run(mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  const bySeq = (items) => items.sort((a, b) => a.seq - b.seq);

  // -- uploading a file: POST /api/v1/threads/{id}/attachments, the raw bytes as the body ----
  const UPLOADS_AT_ONCE = 2; // a phone's uplink is narrow: more at once only slows each one
  const running = new Map(); // file client_id -> the upload in flight (one request per file)
  const queue = []; // starts waiting for a free slot
  let active = 0;

  function slot(start) {
    return new Promise((resolve) => {
      queue.push(() => {
        active += 1;
        start().then(resolve).finally(() => {
          active -= 1;
          if (queue.length) queue.shift()();
        });
      });
      if (active < UPLOADS_AT_ONCE) queue.shift()();
    });
  }

  // The answer, whatever happened: {ok, attachment} or {ok: false, status, code, message};
  // status 0 is "the network failed" (try again later), a 4xx is a refusal (say why).
  function answer(status, text) {
    let data = {};
    try {
      data = JSON.parse(text || "{}");
    } catch (e) {
      data = {};
    }
    if (status === 200 || status === 201) return { ok: true, status, attachment: data.attachment };
    const error = (data && data.error) || {};
    return { ok: false, status, code: error.code || "http_" + status, message: error.message || "HTTP " + status };
  }

  function headers(file, csrf) {
    return {
      "Content-Type": file.type || "application/octet-stream",
      // Header values are ASCII: the name goes percent-encoded (UTF-8), the server decodes it.
      "X-File-Name": encodeURIComponent(file.name || "file"),
      // The same id on every try: a retried upload that got through before is stored once.
      "X-Client-Id": file.client_id,
      "x-csrftoken": csrf || "",
    };
  }

  // A page uploads with XMLHttpRequest: only it reports upload progress (fetch does not).
  function viaXhr(url, file, csrf, progress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.withCredentials = true;
      for (const [k, v] of Object.entries(headers(file, csrf))) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) progress.forEach((fn) => fn(e.loaded, e.total));
      };
      xhr.onload = () => resolve(answer(xhr.status, xhr.responseText));
      xhr.onerror = xhr.onabort = xhr.ontimeout = () => resolve(answer(0, ""));
      xhr.send(file.blob);
    });
  }

  async function viaFetch(url, file, csrf) {
    try {
      const res = await fetch(url, { method: "POST", credentials: "same-origin", headers: headers(file, csrf), body: file.blob });
      return answer(res.status, await res.text());
    } catch (e) {
      return answer(0, "");
    }
  }

  // Upload one file of a message (at most UPLOADS_AT_ONCE at a time). Asked again for a file
  // already on its way (the composer started it, then the outbox wants it), the same upload
  // answers both, and both hear its progress.
  function upload(thread, file, csrf, onProgress) {
    const inFlight = running.get(file.client_id);
    if (inFlight) {
      if (onProgress) inFlight.progress.push(onProgress);
      return inFlight.promise;
    }
    const url = "/api/v1/threads/" + encodeURIComponent(thread) + "/attachments";
    const progress = onProgress ? [onProgress] : [];
    const start = () => (typeof XMLHttpRequest === "function" ? viaXhr(url, file, csrf, progress) : viaFetch(url, file, csrf));
    const promise = slot(start).finally(() => running.delete(file.client_id));
    running.set(file.client_id, { promise, progress });
    return promise;
  }

  // Refused for good (say so, don't try again) or worth another try later (the network, a
  // server that stumbled, a session to renew, too many requests at once).
  const refused = (a) => !a.ok && a.status >= 400 && a.status < 500 && ![401, 408, 429].includes(a.status);

  return {
    // Keep a new item, numbered after every item kept so far (one transaction: no two get the
    // same number, even from two tabs).
    add: (item) =>
      run("readwrite", (s) => {
        const last = s.index("seq").openCursor(null, "prev");
        last.onsuccess = () => s.put({ ...item, seq: last.result ? last.result.value.seq + 1 : 1 });
      }),
    put: (item) => run("readwrite", (s) => s.put(item)),
    // Change a kept item in one transaction, if it is still kept (delivered meanwhile by the
    // page or the worker: then there is nothing to change, and nothing is put back).
    update: (clientId, change) =>
      run("readwrite", (s) => {
        const req = s.get(clientId);
        req.onsuccess = () => req.result && s.put(change(req.result));
      }),
    get: (clientId) => run("readonly", (s) => s.get(clientId)),
    remove: (clientId) => run("readwrite", (s) => s.delete(clientId)),
    all: () => run("readonly", (s) => s.index("seq").getAll()),
    forThread: (thread) => run("readonly", (s) => s.index("thread").getAll(thread)).then(bySeq),
    clear: () => run("readwrite", (s) => s.clear()),
    upload,
    refused,
    async fail(clientId, reason) {
      const item = await this.get(clientId);
      if (item) await this.put({ ...item, state: "failed", reason });
    },
  };
})();
