// The web client in a real browser against a real node: what two, then three people do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addContact,
  clickUntil,
  confirmAsk,
  contact,
  goOffline,
  launchBrowser,
  logIn,
  newPerson,
  openChat,
  openContact,
  PRESENCE_TIMEOUT_MS,
  screenshot,
  send,
  shownMessages,
  signUp,
  startNode,
  tearDown,
  waitForMessages,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;

before(async () => {
  node = await startNode();
  browser = await launchBrowser();
  alice = await newPerson(browser, node);
  bob = await newPerson(browser, node);
});

after(() => tearDown(browser, node));

test('two people sign up, add each other, see each other online and chat both ways', async () => {
  await screenshot(alice.page, 'login');
  await signUp(alice.page, 'alice');
  await signUp(bob.page, 'bob');

  await addContact(alice.page, 'bob');
  await contact(alice.page, 'bob').locator('.presence', { hasText: 'waiting for them' }).waitFor();
  await addContact(bob.page, 'alice');
  // Friends now: each sees the other's green dot.
  await contact(alice.page, 'bob').and(alice.page.locator('[data-online=true]')).waitFor();
  await contact(bob.page, 'alice').and(bob.page.locator('[data-online=true]')).waitFor();
  assert.equal(await contact(alice.page, 'bob').locator('.presence').textContent(), 'online');

  await openContact(alice.page, 'bob');
  await send(alice.page, 'Hi Bob! Climbing on Saturday?');
  await waitForMessages(alice.page, ['Hi Bob! Climbing on Saturday?']);

  // Bob was not looking at the chat: it shows one unread message.
  const bobsChat = bob.page.locator('[data-testid=chat-item]', { hasText: 'alice' });
  await bobsChat.locator('[data-testid=unread]', { hasText: '1' }).waitFor();
  await openChat(bob.page, 'alice');
  await waitForMessages(bob.page, ['Hi Bob! Climbing on Saturday?']);
  assert.equal(await bobsChat.locator('[data-testid=unread]').count(), 0, 'opening the chat clears its unread count');
  await send(bob.page, 'Yes! 10am?');
  await send(bob.page, 'I will bring the rope 🧗');
  const expected = ['Hi Bob! Climbing on Saturday?', 'Yes! 10am?', 'I will bring the rope 🧗'];
  assert.deepEqual(await waitForMessages(alice.page, expected), expected);
  assert.deepEqual(await waitForMessages(bob.page, expected), expected);
  await screenshot(alice.page, 'chat');
});

test('a third person joins a group and everyone sees its messages in the same order', async () => {
  carol = await newPerson(browser, node);
  await signUp(carol.page, 'carol');
  await addContact(alice.page, 'carol');
  await addContact(carol.page, 'alice');

  await alice.page.click('#new-group');
  await alice.page.fill('#group-name', 'Climbing');
  await alice.page.check('#group-members input[value="2"]'); // bob
  await alice.page.click('#group-form button[type=submit]');
  await alice.page.locator('#chat-title', { hasText: 'Climbing' }).waitFor();
  await alice.page.click('#members-toggle');
  await alice.page.selectOption('#member-add', { label: 'carol' });
  await alice.page.click('#member-form button[type=submit]');
  await alice.page.locator('[data-testid=member]', { hasText: 'carol' }).waitFor();
  await alice.page.click('#members-toggle');

  await openChat(bob.page, 'Climbing');
  await openChat(carol.page, 'Climbing');
  await carol.page.locator('.event', { hasText: 'alice added you' }).waitFor();
  // All three write at once; the node's order is the only order.
  await Promise.all([
    send(alice.page, 'a1'),
    send(bob.page, 'b1'),
    send(carol.page, 'c1'),
  ]);
  await Promise.all([send(alice.page, 'a2'), send(bob.page, 'b2'), send(carol.page, 'c2')]);
  const lists = [];
  for (const person of [alice, bob, carol]) {
    await person.page.locator('[data-testid=message]').nth(5).waitFor();
    await person.page.waitForFunction(() => !document.querySelector('[data-testid=pending]'));
    lists.push(await shownMessages(person.page));
  }
  assert.equal(lists[0].length, 6);
  assert.deepEqual(lists[1], lists[0]);
  assert.deepEqual(lists[2], lists[0]);
  assert.deepEqual([...lists[0]].sort(), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
  await screenshot(carol.page, 'group');
});

test('a second browser of the same person is another device and gets the same messages', async () => {
  // Tabs of one browser share one device (tabs.test.mjs); another browser logs in as another.
  const second = await newPerson(browser, node);
  const secondTab = second.page;
  await logIn(secondTab, 'alice');
  await openChat(secondTab, 'Climbing');
  const before = await shownMessages(alice.page);
  // The new device loads the chat from history.
  await waitForMessages(secondTab, before);

  await send(bob.page, 'from bob to both tabs');
  await waitForMessages(alice.page, [...before, 'from bob to both tabs']);
  await waitForMessages(secondTab, [...before, 'from bob to both tabs']);
  // What one tab sends, the other shows as alice's own message.
  await send(secondTab, 'sent from the second tab');
  await waitForMessages(alice.page, ['from bob to both tabs', 'sent from the second tab']);
  const mine = alice.page.locator('[data-testid=message].mine', { hasText: 'sent from the second tab' });
  assert.equal(await mine.count(), 1);
  await second.context.close();
});

test('messages sent while the network is cut all arrive exactly once on reconnect', async () => {
  await openChat(alice.page, 'bob');
  await openChat(bob.page, 'alice');
  const before = await shownMessages(bob.page);
  // Bob's next connections go through a proxy in the test. The first sendAck the node sends
  // him is lost with its connection, so the client cannot know its message was stored: it
  // must resend it, and the node must not store it twice.
  let lostAcks = 0;
  await bob.page.routeWebSocket(/\/v1\/ws/, (page) => {
    const server = page.connectToServer();
    page.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => {
      if (lostAcks === 0 && String(frame).includes('"sendAck"')) {
        lostAcks += 1;
        server.close();
        page.close({ code: 4000, reason: 'lost by the test' });
        return;
      }
      page.send(frame);
    });
  });

  await goOffline(bob, node);
  const whileAway = ['while you were away 1', 'while you were away 2', 'while you were away 3', 'while you were away 4'];
  for (const text of whileAway) await send(alice.page, text);
  await waitForMessages(alice.page, whileAway);
  // Bob writes too; it waits in his outbox.
  await send(bob.page, 'typed while offline');
  await bob.page.locator('[data-testid=pending]', { hasText: 'typed while offline' }).waitFor();
  await sleep(300);
  assert.deepEqual(await shownMessages(bob.page), before, 'nothing reaches a page that is offline');

  await bob.context.setOffline(false);
  const expected = [...before, ...whileAway, 'typed while offline'];
  await waitForMessages(bob.page, expected);
  await waitForMessages(alice.page, [...whileAway, 'typed while offline']);
  await sleep(500); // anything duplicated would have arrived by now
  assert.deepEqual(await shownMessages(bob.page), expected, 'each message once, in order');
  assert.equal(lostAcks, 1, 'the test lost one sendAck');
  const alices = await shownMessages(alice.page);
  assert.equal(alices.filter((t) => t === 'typed while offline').length, 1);
});

test('history loads page by page when scrolling back', async () => {
  await openChat(alice.page, 'bob');
  const older = Array.from({ length: 64 }, (_, i) => `history ${i + 1}`);
  for (const text of older) await send(alice.page, text);
  await waitForMessages(alice.page, older.slice(-3));
  const everything = await waitForMessages(bob.page, older.slice(-3), 20_000);

  // A new device of bob's (another browser) starts at the inbox head and reads the chat back
  // from history.
  const device = await newPerson(browser, node);
  const tab = device.page;
  await logIn(tab, 'bob');
  await openChat(tab, 'alice');
  await waitForMessages(tab, older.slice(-30));
  assert.equal((await shownMessages(tab)).length, 30, 'the first page holds 30 messages');
  for (let page = 0; page < 5 && (await tab.locator('#load-older').isVisible()); page++) {
    await tab.locator('#messages').evaluate((box) => box.scrollTo(0, 0));
    await tab.waitForFunction((n) => document.querySelectorAll('[data-testid=message]').length > n, 30 * (page + 1));
  }
  assert.deepEqual(await shownMessages(tab), everything, 'all of it, in order, once');
  assert.equal(await tab.locator('#load-older').isVisible(), false, 'nothing older is left');
  await device.context.close();
});

test('errors are shown where they happen and store nothing', async () => {
  await openChat(bob.page, 'alice');
  const before = await shownMessages(bob.page);
  // Too long: 100,000 code points.
  await bob.page.fill('#composer-text', 'x'.repeat(100_000));
  await bob.page.click('#composer button[type=submit]');
  const failed = bob.page.locator('[data-testid=failed]');
  await failed.locator('.meta', { hasText: 'too long' }).waitFor();
  await bob.page.locator('#toast', { hasText: 'too long' }).waitFor();
  await screenshot(bob.page, 'error');
  await clickUntil(() => failed.locator('button', { hasText: 'Dismiss' }), failed, 'detached');
  await sleep(300);
  assert.deepEqual(await shownMessages(bob.page), before, 'nothing was stored');

  // Not a member: carol writes to the group while offline, and is removed meanwhile.
  await openChat(carol.page, 'Climbing');
  await goOffline(carol, node);
  await send(carol.page, 'am I still here?');
  await openChat(alice.page, 'Climbing');
  await alice.page.click('#members-toggle');
  await alice.page.locator('[data-testid=member]', { hasText: 'carol' }).locator('button', { hasText: 'Remove' }).click();
  await confirmAsk(alice.page);
  await alice.page.locator('.event', { hasText: 'You removed carol' }).waitFor();
  await carol.context.setOffline(false);
  await carol.page.locator('[data-testid=failed] .meta', { hasText: 'not a member' }).waitFor();
  await carol.page.locator('#chat-subtitle', { hasText: 'no longer a member' }).waitFor();
  assert.equal(await carol.page.locator('#composer-text').isDisabled(), true);
  await sleep(300);
  const alices = await shownMessages(alice.page);
  assert.ok(!alices.includes('am I still here?'), 'a refused message is not stored');
});

test('the layout works on a phone-sized screen', async () => {
  const phone = await newPerson(browser, node, { viewport: { width: 390, height: 780 } });
  await logIn(phone.page, 'carol');
  await screenshot(phone.page, 'phone-chats');
  assert.equal(await phone.page.locator('#chat').isVisible(), false, 'one pane at a time');
  await openChat(phone.page, 'Climbing');
  assert.equal(await phone.page.locator('.sidebar').isVisible(), false);
  await phone.page.locator('[data-testid=message]').first().waitFor();
  await screenshot(phone.page, 'phone-chat');
  await phone.page.click('#back');
  assert.equal(await phone.page.locator('.sidebar').isVisible(), true);
  await phone.context.close();
});

test('a person who closes the page goes offline for their friends after the timeout', async () => {
  await contact(alice.page, 'bob').and(alice.page.locator('[data-online=true]')).waitFor();
  const closedAt = Date.now();
  await bob.context.close();
  await contact(alice.page, 'bob')
    .and(alice.page.locator('[data-online=false]'))
    .waitFor({ timeout: PRESENCE_TIMEOUT_MS + 10_000 });
  const took = Date.now() - closedAt;
  assert.ok(took >= PRESENCE_TIMEOUT_MS - 500, `offline only after the presence timeout (took ${took} ms)`);
  assert.match(await contact(alice.page, 'bob').locator('.presence').textContent(), /last active/);
  await screenshot(alice.page, 'presence');
});
