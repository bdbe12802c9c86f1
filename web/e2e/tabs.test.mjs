// One login per browser (docs/web.md, "Tabs, the session and the outbox"): a tab opened
// after logging in is logged in, as the same device; one tab at a time is connected, and
// "Use here" moves the connection; logging out in one tab logs out the others; a message
// written while the node cannot be reached survives closing the tab and is sent, exactly
// once, when parley is opened again, even when its first sending was stored and only the
// acknowledgement was lost.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  confirmAsk,
  goOffline,
  logIn,
  openContact,
  recordFrames,
  screenshot,
  send,
  shownMessages,
  startFriends,
  storedText,
  tearDown,
  waitForMessages,
  waitUntil,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;

before(async () => {
  ({ node, browser, people: { alice, bob } } = await startFriends(['alice', 'bob']));
});

after(() => tearDown(browser, node));

// Another tab of `person`'s browser, on the node's page.
async function newTab(person) {
  const page = await person.context.newPage();
  page.on('pageerror', (error) => {
    throw new Error(`page error: ${error.message}`);
  });
  const frames = recordFrames(page);
  await page.goto(node.url);
  return { page, frames };
}

const online = (page) => page.waitForSelector('[data-testid=status][data-state=online]');
const session = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('parley.session')));

// How many times the chat on `page` shows `text`.
const times = async (page, text) => (await shownMessages(page)).filter((t) => t === text).length;

test('a second tab is logged in as the same device, and one tab at a time is connected', async () => {
  const second = await newTab(alice);
  await online(second.page); // no log-in form: the session is the browser's
  assert.deepEqual(await session(second.page), await session(alice.page));
  // The first tab stepped aside.
  await alice.page.locator('[data-testid=elsewhere]').waitFor();
  await screenshot(alice.page, 'tabs-elsewhere');
  // Still one device.
  const { token } = await session(second.page);
  const profile = await second.page.evaluate(
    (t) => fetch('/v1/profile', { headers: { Authorization: `Bearer ${t}` } }).then((r) => r.json()),
    token,
  );
  assert.equal(profile.devices.length, 1, 'both tabs are one device');

  await openContact(second.page, 'bob');
  await send(second.page, 'from the second tab');
  await openContact(bob.page, 'alice');
  await waitForMessages(bob.page, ['from the second tab']);

  // "Use here" takes the connection back.
  await alice.page.click('[data-testid=use-here]');
  await online(alice.page);
  await second.page.locator('[data-testid=elsewhere]').waitFor();
  await openContact(alice.page, 'bob');
  await waitForMessages(alice.page, ['from the second tab']);
  await send(bob.page, 'hi both');
  await waitForMessages(alice.page, ['from the second tab', 'hi both']);
  alice.second = second;
});

test('logging out in one tab logs out the others', async () => {
  await alice.page.click('#logout');
  await confirmAsk(alice.page);
  await alice.page.locator('#auth').waitFor();
  await alice.second.page.locator('#auth').waitFor();
  assert.match(await alice.second.page.locator('#auth-error').textContent(), /logged out in another tab/);
  assert.equal(await session(alice.second.page), null);
  // Logging in again in one tab logs the other in, stepped aside.
  await logIn(alice.page, 'alice');
  await alice.second.page.locator('[data-testid=elsewhere]').waitFor();
  await alice.second.page.close();
});

test('a message written while the node cannot be reached is sent once when parley opens again', async () => {
  await openContact(alice.page, 'bob');
  await goOffline(alice, node);
  await send(alice.page, 'written offline');
  await alice.page.locator('[data-testid=pending]', { hasText: 'written offline' }).waitFor();
  assert.ok((await storedText(alice.page)).includes('written offline'), 'the outbox is on disk');
  await alice.page.close();
  await alice.context.setOffline(false);
  await sleep(300);
  assert.equal(await times(bob.page, 'written offline'), 0, 'nothing was sent yet');

  const reopened = await newTab(alice);
  alice.page = reopened.page;
  await online(alice.page);
  await waitForMessages(bob.page, ['written offline']);
  await waitUntil('the sendAck', () => reopened.frames.received.some((f) => f.sendAck));
  await openContact(alice.page, 'bob');
  await waitForMessages(alice.page, ['written offline']);
  await sleep(500);
  assert.equal(await times(bob.page, 'written offline'), 1);
  assert.equal(await times(alice.page, 'written offline'), 1);
  assert.ok(!(await storedText(alice.page)).includes('written offline'), 'acked: gone from the outbox');
});

test('a message stored but never acked before the tab closed is not stored twice', async () => {
  // The node stores it and sends the sendAck, which the test proxy swallows: the page cannot
  // know its message was stored.
  let swallowed = 0;
  await alice.page.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => {
      if (String(frame).includes('"sendAck"')) {
        swallowed += 1;
        return;
      }
      ws.send(frame);
    });
  });
  await alice.page.reload();
  await online(alice.page);
  await openContact(alice.page, 'bob');
  await send(alice.page, 'ack lost');
  await waitForMessages(bob.page, ['ack lost']);
  await waitUntil('the swallowed sendAck', () => swallowed === 1);
  assert.ok((await storedText(alice.page)).includes('ack lost'), 'still in the outbox');
  await alice.page.close();

  const reopened = await newTab(alice);
  alice.page = reopened.page;
  await online(alice.page);
  const ack = await waitUntil('the resend’s sendAck', () => reopened.frames.received.find((f) => f.sendAck)?.sendAck);
  assert.equal(ack.duplicate, true, 'the node knew the clientMsgId');
  await openContact(alice.page, 'bob');
  await waitForMessages(alice.page, ['ack lost']);
  await sleep(500);
  assert.equal(await times(bob.page, 'ack lost'), 1, 'stored once');
  assert.equal(await times(alice.page, 'ack lost'), 1);
});
