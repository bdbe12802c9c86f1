// Shared pieces of the end-to-end tests: a real `parley serve` on 127.0.0.1 with short
// presence timers, Debian's Chromium driven headless by playwright-core, and the steps a
// person takes in the page. Set by ctest (tests/CMakeLists.txt):
//   PARLEY_BIN       the parley binary
//   PARLEY_WEB_ROOT  the built web client (web/dist)
//   PARLEY_E2E_OUT   where screenshots go
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const HEARTBEAT_MS = 400;
export const PRESENCE_TIMEOUT_MS = 2000;
// The node drops a connection that sent nothing for this long and then nothing for as long
// again after a ping (docs/operations.md, --ping-after-ms): a page taken offline may leave
// its socket open on the node's side (goOffline).
export const PING_AFTER_MS = 1000;

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the e2e tests through ctest)`);
  return value;
};

export const outputDir = () => process.env.PARLEY_E2E_OUT ?? join(tmpdir(), 'parley-e2e');

// extra: more `parley serve` flags (a cluster node's --etcd ...).
export async function startNode(extra = []) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-e2e-'));
  const portFile = join(dir, 'port');
  const child = spawn(
    env('PARLEY_BIN'),
    [
      'serve',
      '--listen', '127.0.0.1:0',
      '--port-file', portFile,
      '--data', join(dir, 'data'),
      '--web-root', env('PARLEY_WEB_ROOT'),
      '--heartbeat-interval-ms', String(HEARTBEAT_MS),
      '--presence-timeout-ms', String(PRESENCE_TIMEOUT_MS),
      '--ping-after-ms', String(PING_AFTER_MS),
      // Cheap password hashing: these tests sign up many users.
      '--argon2-opslimit', '1',
      '--argon2-memlimit-kib', '8192',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  let port = null;
  for (let i = 0; i < 200 && port === null; i++) {
    if (child.exitCode !== null) throw new Error(`parley serve exited ${child.exitCode}: ${log}`);
    port = await readFile(portFile, 'utf8').then((text) => text.trim() || null, () => null);
    if (port === null) await sleep(50);
  }
  if (port === null) throw new Error(`parley serve wrote no port file: ${log}`);
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    // SIGKILL: the machine dies; the data directory stays until stop().
    async kill() {
      child.kill('SIGKILL');
      await new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', resolve),
      );
    },
    async stop() {
      const exited = () => child.exitCode !== null || child.signalCode !== null;
      if (!exited()) child.kill('SIGTERM');
      await new Promise((resolve) => (exited() ? resolve() : child.on('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      // Nothing but the node under test: no update checks, sync, metrics or field trials.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--disable-domain-reliability',
      '--disable-client-side-phishing-detection',
      '--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions',
      '--metrics-recording-only',
      '--no-first-run',
      '--no-pings',
    ],
  });
}

// A person: a browser context (its own storage, like another browser) with one page open on
// the node. `prepare(context)` runs before the page opens: permissions, init scripts, routes.
export async function newPerson(browser, node, { viewport = { width: 1100, height: 760 }, prepare } = {}) {
  const context = await browser.newContext({ viewport });
  trackSockets(context);
  if (prepare) await prepare(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw new Error(`page error: ${error.message}`);
  });
  await page.goto(node.url);
  return { context, page };
}

// The newest WebSocket of each page of a context, for goOffline. A page holds one connection
// at a time; an older one may never report its close (it was cut while the page was offline).
const newestSockets = new WeakMap(); // context -> Map(page -> WebSocket)
function trackSockets(context) {
  const newest = new Map();
  context.on('page', (page) => {
    page.on('websocket', (ws) => newest.set(page, ws));
    page.on('close', () => newest.delete(page));
  });
  newestSockets.set(context, newest);
}
const liveSockets = (context) => [...newestSockets.get(context).values()].filter((ws) => !ws.isClosed()).length;

// The node's open WebSocket connections, from GET /metrics (docs/operations.md).
async function openConnections(node) {
  const text = await (await fetch(new URL('/metrics', node.url))).text();
  return Number(/^parley_connections (\d+)$/m.exec(text)[1]);
}

// Takes a person's browser off the network and waits until the page says so and the node has
// closed the person's connections. The page drops its socket at once, but until the node
// reads the close (or misses the heartbeats) it still writes to it, and what it writes may
// arrive live: a slow node (CI's ASan run) delivered an edit made after the page showed
// "offline" that way. A step meant to happen while the person is away waits for this.
export async function goOffline(person, node) {
  const theirs = liveSockets(person.context);
  const before = await openConnections(node);
  await person.context.setOffline(true);
  await person.page.locator('[data-testid=status][data-state=offline]').waitFor();
  // Chromium may keep the TCP connection open after the page has closed its socket (its
  // close frame cannot get out while offline, and net::WebSocketChannel waits minutes for
  // the closing handshake); then the node drops it once its ping goes unanswered, about
  // 2 × PING_AFTER_MS after the page went quiet. CI's first run of e2e.receipts waited 30 s
  // for such a connection with the node pinging only after 150 s.
  const deadline = Date.now() + 30_000;
  while ((await openConnections(node)) > before - theirs) {
    if (Date.now() > deadline) throw new Error(`the node kept ${theirs} connection(s) of this person open (${before} open before)`);
    await sleep(25);
  }
}

// Runs in every page before its scripts: window.shown lists the notifications made,
// window.asked counts the permission prompts, window.focused the calls to window.focus().
function observeNotifications() {
  const Real = window.Notification;
  window.shown = [];
  window.asked = 0;
  window.focused = 0;
  const focus = window.focus.bind(window);
  window.focus = () => {
    window.focused += 1;
    focus();
  };
  class Observed extends EventTarget {
    constructor(title, options = {}) {
      super();
      Object.assign(this, { title, body: options.body, tag: options.tag, closed: false, onclick: null });
      window.shown.push(this);
    }
    close() {
      this.closed = true;
    }
    static get permission() {
      return Real.permission;
    }
    static requestPermission() {
      window.asked += 1;
      return Real.requestPermission();
    }
  }
  window.Notification = Observed;
}

// A person (newPerson) whose page records its notifications (observeNotifications), with
// notification permission granted when `grant`, and the frames it receives (recordFrames).
export async function notifiedPerson(browser, node, name, grant = false) {
  const { context, page } = await newPerson(browser, node, {
    prepare: async (context) => {
      if (grant) await context.grantPermissions(['notifications'], { origin: node.url });
      await context.addInitScript(observeNotifications);
    },
  });
  return { name, context, page, frames: recordFrames(page) };
}

// Fills the log-in form in `mode` ('signup' or 'login') and waits for the chat to connect.
async function authenticate(page, mode, name, password) {
  await page.click(`#tab-${mode}`);
  await page.fill('#auth-name', name);
  await page.fill('#auth-password', password);
  await page.click('#auth-submit');
  await page.waitForSelector('[data-testid=status][data-state=online]');
}

export const signUp = (page, name, password = 'correct horse battery') =>
  authenticate(page, 'signup', name, password);
export const logIn = (page, name, password = 'correct horse battery') =>
  authenticate(page, 'login', name, password);

export async function addContact(page, name) {
  await page.fill('#contact-name', name);
  await page.click('#contact-form button[type=submit]');
  await page.waitForSelector(`[data-testid=contact][data-name="${name}"]`);
}

// Signs each of `people` ({page, name}) up, then makes the first a mutual contact of each
// of the others and waits until it sees them online: the start of every multi-person test.
export async function signUpAsFriends(people) {
  for (const person of people) await signUp(person.page, person.name);
  const [hub, ...others] = people;
  for (const person of others) {
    await addContact(hub.page, person.name);
    await addContact(person.page, hub.name);
    await contact(hub.page, person.name).and(hub.page.locator('[data-online=true]')).waitFor();
  }
}

// A node, a browser and one person per name, each recording their frames, signed up and
// friends of the first (signUpAsFriends): what most tests start from.
// extra: more `parley serve` flags, as for startNode.
export async function startFriends(names, extra = []) {
  const node = await startNode(extra);
  const browser = await launchBrowser();
  const people = {};
  for (const name of names) {
    const person = await newPerson(browser, node);
    person.frames = recordFrames(person.page);
    people[name] = person;
  }
  await signUpAsFriends(names.map((name) => ({ page: people[name].page, name })));
  return { node, browser, people };
}

// Closes the browser and stops the node, which must exit cleanly on SIGTERM.
export async function tearDown(browser, node) {
  await browser?.close();
  const code = await node?.stop();
  assert.equal(code, 0, `the node should stop cleanly on SIGTERM; its log:\n${node?.log()}`);
}

// Fails when any of the people's pages shows an error toast.
export async function noToast(...people) {
  for (const person of people) {
    const toast = person.page.locator('#toast');
    assert.equal(await toast.isVisible(), false, `no error shown: ${await toast.textContent()}`);
  }
}

export const contact = (page, name) => page.locator(`[data-testid=contact][data-name="${name}"]`);

// Does `act()` until `done` reaches `state` (a Playwright locator state). The page redraws
// its lists and messages whenever the node tells it something (a channel list, a receipt):
// a click that lands on an element in the instant it is replaced does nothing, as it would
// for a person, who clicks again. An act that fails (its target is gone because the last
// one worked meanwhile) is not an error: `done` decides.
async function actUntil(act, done, state = 'visible') {
  for (let attempt = 0; attempt < 5; attempt++) {
    await act().catch(() => {});
    if (await done.waitFor({ state, timeout: 5000 }).then(() => true, () => false)) return;
  }
  await done.waitFor({ state });
}

// Clicks `target()` until `done` reaches `state` (see actUntil).
export const clickUntil = (target, done, state = 'visible') =>
  actUntil(() => target().click({ timeout: 5000 }), done, state);

const titled = (page, title) => page.locator('#chat-view:not([hidden]) #chat-title', { hasText: title });

export async function openContact(page, name) {
  await clickUntil(() => contact(page, name).locator('.name'), titled(page, name));
}

export async function openChat(page, title) {
  await clickUntil(() => page.locator('[data-testid=chat-item]', { hasText: title }).first(), titled(page, title));
}

export async function send(page, text) {
  await page.fill('#composer-text', text);
  await page.press('#composer-text', 'Enter');
}

// The texts of the delivered messages in the open chat, in display order.
export const shownMessages = (page) => page.locator('[data-testid=message] .text').allTextContents();

// Waits until the open chat shows exactly `expected` as its last messages.
export async function waitForMessages(page, expected, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let shown = [];
  while (Date.now() < deadline) {
    shown = await shownMessages(page);
    if (JSON.stringify(shown.slice(-expected.length)) === JSON.stringify(expected)) return shown;
    await sleep(50);
  }
  throw new Error(`expected the chat to end with ${JSON.stringify(expected)}, it shows ${JSON.stringify(shown)}`);
}

export async function screenshot(page, name) {
  await mkdir(outputDir(), { recursive: true });
  await page.screenshot({ path: join(outputDir(), `${name}.png`) });
}

// Every frame a page's WebSockets send and receive, parsed, in order.
export function recordFrames(page) {
  const frames = { sent: [], received: [] };
  const parse = (payload) => {
    try {
      return JSON.parse(String(payload));
    } catch {
      return {};
    }
  };
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => frames.sent.push(parse(payload)));
    ws.on('framereceived', ({ payload }) => frames.received.push(parse(payload)));
  });
  return frames;
}

// Polls `predicate` (a plain function, e.g. over recorded frames) until it returns something.
export async function waitUntil(what, predicate, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const found = predicate();
    if (found) return found;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---- Chats, messages and frames by id ---------------------------------------------------------
export const chatItem = (page, channel) => page.locator(`[data-testid=chat-item][data-channel="${channel}"]`);
export const badge = (page, channel) => chatItem(page, channel).locator('[data-testid=unread]');

// Opens the chat of a channel id from the list; done when its row is the selected one (the
// chat view may already show another chat, so its being visible proves nothing).
export async function openChannel(page, channel) {
  await clickUntil(() => chatItem(page, channel), chatItem(page, channel).and(page.locator('.selected')));
  await page.waitForSelector('#chat-view:not([hidden])');
}

// Message `seq` of the open chat, and the seq of the first message showing `text`.
export const bubble = (page, seq) => page.locator(`#message-list [data-testid=message][data-seq="${seq}"]`);
export const seqOf = (page, text) =>
  page.locator('[data-testid=message]', { hasText: text }).first().getAttribute('data-seq');

// The frames named `name` a person ({frames: recordFrames(page)}) sent, and the messages
// delivered to them.
export const sentFrames = (person, name) => person.frames.sent.filter((f) => f[name]).map((f) => f[name]);
export const delivered = (person) =>
  person.frames.received.flatMap((f) => f.deliver?.entries ?? []).map((e) => e.message);

// Creates group `name` with the contacts `members` (names) from the form; it opens. Its
// channel id comes back (the chat list's selected row).
export async function createGroup(page, name, members) {
  await page.click('#new-group');
  await page.fill('#group-name', name);
  for (const member of members) {
    await page.locator('#group-members label', { hasText: member }).locator('input').check();
  }
  await page.click('#group-form button[type=submit]');
  await page.locator('#chat-title', { hasText: name }).waitFor();
  const row = page.locator('[data-testid=chat-item].selected', { hasText: name });
  return row.getAttribute('data-channel');
}

// ---- A message's ⋯ menu ---------------------------------------------------------------------
export async function openMenu(page, seq) {
  await bubble(page, seq).hover();
  await bubble(page, seq).locator('[data-testid=message-actions]').click();
  await bubble(page, seq).locator('[data-testid=actions-menu]').waitFor();
}

// Chooses `action` (edit-message, reply-message, delete-message) in message `seq`'s ⋯
// menu, again until `done` shows: the list redraws as receipts and presence come in, and a
// redraw between opening the menu and the click closes the menu (see actUntil).
const OUTCOME = {
  'edit-message': '[data-testid=edit-bar]:not([hidden])',
  'reply-message': '[data-testid=reply-bar]:not([hidden])',
  'delete-message': '[data-testid=confirm-dialog][open]',
};
export async function chooseAction(page, seq, action) {
  await actUntil(async () => {
    await openMenu(page, seq);
    await bubble(page, seq).locator(`[data-testid=${action}]`).click({ timeout: 5000 });
  }, page.locator(OUTCOME[action]));
}

// The actions a page offers on message `seq`: [] when there is no ⋯ button, else the
// menu's items ('reply', 'edit', 'delete'); the menu is closed again.
export async function actionsOn(page, seq) {
  const toggle = bubble(page, seq).locator('[data-testid=message-actions]');
  if ((await toggle.count()) === 0) return [];
  await openMenu(page, seq);
  const menu = bubble(page, seq).locator('[data-testid=actions-menu]');
  const items = await menu.locator('[role=menuitem]').evaluateAll((all) => all.map((b) => b.dataset.action));
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  return items;
}

// ---- A device without a page ------------------------------------------------------------------
// Another device of user `name`, speaking the protocol's JSON frames itself (as the command
// line client would), from a blank page of its own: for what the page offers no way to do.
// `request(kind, fields)` resolves with the answer's {kind: body}; `received` holds every frame.
export async function rawDevice(browser, node, name, password = 'correct horse battery') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${node.url}/v1/discover`); // same origin as the node, no client running
  await page.evaluate(
    async ({ name, password }) => {
      const post = (path, body, token) =>
        fetch(path, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        }).then((r) => r.json());
      const login = await post('/v1/login', { name, password, device_label: 'raw' });
      const url = `ws://${location.host}/v1/ws?token=${encodeURIComponent(login.token)}`;
      const ws = new WebSocket(url);
      window.raw = { ws, received: [], waiters: [], next: 100 };
      ws.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        window.raw.received.push(frame);
        const body = Object.values(frame)[0];
        if (frame.deliver) ws.send(JSON.stringify({ ack: { inboxSeq: frame.deliver.entries.at(-1).inboxSeq } }));
        for (const waiter of window.raw.waiters.splice(0)) {
          if (body?.request === waiter.id) waiter.resolve(frame);
          else window.raw.waiters.push(waiter);
        }
      };
      await new Promise((resolve, reject) => {
        ws.onopen = () => ws.send(JSON.stringify({ hello: { request: '1', cursor: '0' } }));
        ws.onerror = reject;
        const wait = setInterval(() => {
          if (!window.raw.received.some((f) => f.welcome)) return;
          clearInterval(wait);
          resolve();
        }, 20);
      });
    },
    { name, password },
  );
  return {
    request: (kind, fields) =>
      page.evaluate(
        ({ kind, fields }) =>
          new Promise((resolve) => {
            const id = String(window.raw.next++);
            window.raw.waiters.push({ id, resolve });
            window.raw.ws.send(JSON.stringify({ [kind]: { request: id, ...fields } }));
          }),
        { kind, fields },
      ),
    received: () => page.evaluate(() => window.raw.received),
    close: () => context.close(),
  };
}

// The user id of the person logged in on `page` (the session is the browser's: localStorage).
export const userId = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('parley.session')).user);

// Answers the page's "are you sure?" dialog (confirm-ui.js) with its action button.
export async function confirmAsk(page) {
  await page.locator('[data-testid=ask-dialog][open]').waitFor();
  await page.click('[data-testid=ask-ok]');
  await page.locator('[data-testid=ask-dialog][open]').waitFor({ state: 'detached' });
}

// Everything the page keeps on this computer, as one string: sessionStorage, localStorage and
// the outbox in IndexedDB (store.js).
export const storedText = (page) =>
  page.evaluate(async () => {
    const outbox = await new Promise((resolve) => {
      const request = indexedDB.open('parley');
      request.onsuccess = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains('outbox')) return resolve([]);
        const all = db.transaction('outbox').objectStore('outbox').getAll();
        all.onsuccess = () => resolve(all.result);
      };
      request.onerror = () => resolve([]);
    });
    return JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage }, outbox });
  });
