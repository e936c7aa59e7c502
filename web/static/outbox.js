// Dreiklang offline outbox: messages written without a connection, kept on the device
// (IndexedDB) until the server acknowledges them. Shared by app.js and the service worker.
// An item: {client_id, thread, body, csrf, created, state: "waiting" | "failed", reason}.
/* exported Outbox */
const Outbox = (() => {
  "use strict";
  const DB_NAME = "dreiklang";
  const STORE = "outbox";
  let opening = null;

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          const store = req.result.createObjectStore(STORE, { keyPath: "client_id" });
          store.createIndex("thread", "thread");
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => {
          opening = null;
          reject(req.error);
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

  return {
    put: (item) => run("readwrite", (s) => s.put(item)),
    get: (clientId) => run("readonly", (s) => s.get(clientId)),
    remove: (clientId) => run("readwrite", (s) => s.delete(clientId)),
    all: () => run("readonly", (s) => s.getAll()),
    forThread: (thread) => run("readonly", (s) => s.index("thread").getAll(thread)),
    clear: () => run("readwrite", (s) => s.clear()),
    async fail(clientId, reason) {
      const item = await this.get(clientId);
      if (item) await this.put({ ...item, state: "failed", reason });
    },
  };
})();
