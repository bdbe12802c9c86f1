// One login per browser (docs/web.md, "Tabs, the session and the outbox").
//
//  - The session (user, device, token) is kept in localStorage, so every tab of this browser
//    (this origin) shares it: a tab opened after logging in is logged in.
//  - The tabs share one device. A device has one live connection (a second one closes the
//    first: docs/protocol.md, "Accounts and tokens"), so one tab at a time is connected: the
//    newest one to start, or the one where the person pressed "Use here". It says so to the
//    others on a BroadcastChannel, and they step aside.
//  - Logging out (or being logged out) in one tab clears the session, and the `storage`
//    event takes every other tab to the log-in screen; logging in in one tab makes the
//    others logged in, stepped aside.

const SESSION_KEY = 'parley.session';
const BUS = 'parley.tabs';

const tab = crypto.getRandomValues(new Uint32Array(2)).join('-'); // this tab, for its own messages
let bus = null;

// The saved session, or null. A session an older client kept in this tab's sessionStorage
// moves to localStorage, with its cursor.
export function savedSession() {
  let text = localStorage.getItem(SESSION_KEY);
  const old = sessionStorage.getItem(SESSION_KEY);
  if (!text && old) {
    const device = JSON.parse(old).device;
    const sync = sessionStorage.getItem(`parley.sync.${device}`);
    if (sync && !localStorage.getItem(`parley.sync.${device}`)) localStorage.setItem(`parley.sync.${device}`, sync);
    localStorage.setItem(SESSION_KEY, old);
    text = old;
  }
  sessionStorage.removeItem(SESSION_KEY);
  return text ? JSON.parse(text) : null;
}

export const saveSession = (session) => localStorage.setItem(SESSION_KEY, JSON.stringify(session));
export const forgetSession = () => localStorage.removeItem(SESSION_KEY);

// `stepAside()`: another tab took the connection. `sessionChanged(session or null)`: another
// tab logged in (or out).
export function watchTabs({ stepAside, sessionChanged }) {
  if (typeof BroadcastChannel === 'function') {
    bus = new BroadcastChannel(BUS);
    bus.onmessage = (event) => {
      if (event.data?.type === 'claim' && event.data.tab !== tab) stepAside();
    };
  }
  addEventListener('storage', (event) => {
    if (event.storageArea !== localStorage || (event.key !== SESSION_KEY && event.key !== null)) return;
    sessionChanged(event.newValue ? JSON.parse(event.newValue) : null);
  });
}

// This tab takes the connection: the others step aside.
export function claimConnection() {
  bus?.postMessage({ type: 'claim', tab });
}
