// The outbox's copy on disk (docs/web.md, "Tabs, the session and the outbox"): IndexedDB,
// database "parley", object store "outbox", one record per send not yet acked, keyed by its
// clientMsgId and tagged with the device. Unlike sessionStorage it outlives the tab, so a
// message written while offline is sent when parley is next opened in this browser; the
// node's idempotency rule (a clientMsgId is stored once) makes sending it again harmless.
//
// Without IndexedDB (some private modes) the outbox lives in memory only, as a tab's did.

const DB = 'parley';
const STORE = 'outbox';

let opening = null;

// The database, with its store; null when IndexedDB cannot be used. A database someone
// made without the store (any version) is upgraded to one with it.
function open(version = undefined) {
  return new Promise((resolve) => {
    let request;
    try {
      request = indexedDB.open(DB, version);
    } catch {
      return resolve(null);
    }
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE, { keyPath: 'clientMsgId' });
    };
    request.onsuccess = () => {
      const db = request.result;
      if (db.objectStoreNames.contains(STORE) || version !== undefined) return resolve(db);
      db.close();
      open(db.version + 1).then(resolve);
    };
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
}

const database = () => (opening ??= open());

// Runs `work(store)` in a transaction; resolves with its request's result once committed
// (a write is on disk then), or with `fallback` when there is no database.
async function run(mode, work, fallback) {
  const db = await database();
  if (!db) return fallback;
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

export const outboxStore = {
  // The sends kept for `device`, oldest first.
  async load(device) {
    const all = await run('readonly', (store) => store.getAll(), []);
    return all.filter((item) => item.device === device).sort((a, b) => a.sentAt - b.sentAt);
  },
  put: (item) => run('readwrite', (store) => store.put(item), undefined),
  remove: (clientMsgId) => run('readwrite', (store) => store.delete(clientMsgId), undefined),
  // Logging out: the device's sends go (the device cannot send them any more).
  async clear(device) {
    for (const item of await this.load(device)) await this.remove(item.clientMsgId);
  },
};
