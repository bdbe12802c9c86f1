// Shared pieces of the end-to-end tests: a real `parley serve` on 127.0.0.1 with short
// presence timers, Debian's Chromium driven headless by playwright-core, and the steps a
// person takes in the page. Set by ctest (tests/CMakeLists.txt):
//   PARLEY_BIN       the parley binary
//   PARLEY_WEB_ROOT  the built web client (web/dist)
//   PARLEY_E2E_OUT   where screenshots go
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const HEARTBEAT_MS = 400;
export const PRESENCE_TIMEOUT_MS = 2000;

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

// A new browser context (its own storage: a separate person) with one page.
export async function newPerson(browser, node, viewport = { width: 1100, height: 760 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw new Error(`page error: ${error.message}`);
  });
  await page.goto(node.url);
  return { context, page };
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

export const contact = (page, name) => page.locator(`[data-testid=contact][data-name="${name}"]`);

export async function openContact(page, name) {
  await contact(page, name).locator('.name').click();
  await page.waitForSelector('#chat-view:not([hidden])');
}

export async function openChat(page, title) {
  await page.locator('[data-testid=chat-item]', { hasText: title }).first().click();
  await page.waitForSelector('#chat-view:not([hidden])');
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
