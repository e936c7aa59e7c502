// Dreiklang offline outbox: messages written without a connection, kept on the device
// (IndexedDB) until the server acknowledges them. Shared by app.js and the service worker.
// An item: {client_id, thread, body, audience, csrf, created, seq, state: "waiting" | "failed",
// reason}. `seq` counts up in the order the items were written: they are sent, stored and shown
// in that order (client ids are random, so their order means nothing).
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

  return {
    // Keep a new item, numbered after every item kept so far (one transaction: no two get the
    // same number, even from two tabs).
    add: (item) =>
      run("readwrite", (s) => {
        const last = s.index("seq").openCursor(null, "prev");
        last.onsuccess = () => s.put({ ...item, seq: last.result ? last.result.value.seq + 1 : 1 });
      }),
    put: (item) => run("readwrite", (s) => s.put(item)),
    get: (clientId) => run("readonly", (s) => s.get(clientId)),
    remove: (clientId) => run("readwrite", (s) => s.delete(clientId)),
    all: () => run("readonly", (s) => s.index("seq").getAll()),
    forThread: (thread) => run("readonly", (s) => s.index("thread").getAll(thread)).then(bySeq),
    clear: () => run("readwrite", (s) => s.clear()),
    async fail(clientId, reason) {
      const item = await this.get(clientId);
      if (item) await this.put({ ...item, state: "failed", reason });
    },
  };
})();
