// Desktop notifications (docs/web.md, "Notifications"): nothing is asked until the person
// ticks the setting; a browser that refuses leaves it off; with permission, a message that
// would count as unread while the tab is hidden shows a notification (not in a muted chat,
// unless it mentions you; not while the page is visible), and clicking it opens the chat.
//
// Each page's Notification is observed: an init script puts a recording stand-in in place
// of the browser's (headless Chromium shows none), which keeps the browser's permission,
// granted or not by playwright (`context.grantPermissions`), and counts requestPermission.
// A page's visibility is faked as in receipts.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createGroup,
  launchBrowser,
  notifiedPerson,
  openChannel,
  openContact,
  send,
  sentFrames,
  signUpAsFriends,
  startNode,
  tearDown,
  waitUntil,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;
let group;



async function setHidden(page, hidden) {
  await page.evaluate((hide) => {
    if (hide) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    else delete document.visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

// Back to no chat open (the Back button, hidden on a wide screen).
const closeChat = (page) => page.evaluate(() => document.querySelector('#back').click());

const shown = (page) => page.evaluate(() => window.shown.map(({ title, body, tag, closed }) => ({ title, body, tag, closed })));

before(async () => {
  node = await startNode();
  browser = await launchBrowser();
  bob = await notifiedPerson(browser, node, 'bob', true);
  alice = await notifiedPerson(browser, node, 'alice', false);
  carol = await notifiedPerson(browser, node, 'carol', false);
  await signUpAsFriends([bob, alice, carol]);
});

after(() => tearDown(browser, node));

test('the permission is asked only when the person ticks the setting; refused, it stays off', async () => {
  await openContact(alice.page, 'bob');
  await send(alice.page, 'no one asked');
  await sleep(300);
  assert.equal(await alice.page.evaluate(() => window.asked), 0, 'nothing asked before the click');
  await alice.page.click('#settings-toggle');
  await alice.page.click('[data-testid=notifications]');
  await alice.page.waitForFunction(() => window.asked === 1);
  await alice.page.waitForFunction(() => !document.querySelector('[data-testid=notifications]').checked);
  assert.equal(await alice.page.evaluate(() => Notification.permission === 'granted'), false);
});

test('with permission, a message for a hidden tab shows a notification; a click opens its chat', async () => {
  await bob.page.click('#settings-toggle');
  await bob.page.check('[data-testid=notifications]');
  assert.equal(await bob.page.isChecked('[data-testid=notifications]'), true);
  assert.equal(await bob.page.evaluate(() => window.asked), 0, 'granted already: nothing to ask');
  await bob.page.click('#settings-toggle');

  // Visible: the page shows the message itself.
  await send(alice.page, 'visible page');
  await bob.page.locator('[data-testid=chat-preview]', { hasText: 'visible page' }).waitFor();
  assert.deepEqual(await shown(bob.page), []);

  await setHidden(bob.page, true);
  await send(alice.page, 'Rope is in my car');
  await bob.page.waitForFunction(() => window.shown.length === 1);
  const [note] = await shown(bob.page);
  assert.equal(note.title, 'alice');
  assert.equal(note.body, 'Rope is in my car');

  // bob's own messages (from another tab of his, here a send from this one) never notify.
  await openContact(bob.page, 'alice');
  await setHidden(bob.page, true);
  await send(bob.page, 'thanks');
  await sleep(500);
  assert.equal((await shown(bob.page)).length, 1);
  await closeChat(bob.page);

  // Clicking the notification brings the tab forward and opens the chat.
  await setHidden(bob.page, true);
  await send(alice.page, 'click me');
  await bob.page.waitForFunction(() => window.shown.length === 2);
  await bob.page.evaluate(() => window.shown[1].onclick(new Event('click')));
  await bob.page.locator('#chat-title', { hasText: 'alice' }).waitFor();
  await bob.page.locator('#chat-view:not([hidden])').waitFor();
  assert.equal(await bob.page.evaluate(() => window.focused), 1);
  assert.equal((await shown(bob.page))[1].closed, true);
  await setHidden(bob.page, false);
});

test('a muted chat notifies only when it mentions you', async () => {
  group = await createGroup(bob.page, 'Crag', ['alice', 'carol']);
  await bob.page.click('[data-testid=mute-toggle]');
  await bob.page.click('[data-testid=mute-menu] [data-action="mute-forever"]');
  await bob.page.locator('[data-testid=mute-toggle][data-muted=true]').waitFor();
  await closeChat(bob.page);
  await setHidden(bob.page, true);
  await openChannel(alice.page, group);
  const before = (await shown(bob.page)).length;
  await send(alice.page, 'muted chatter');
  await waitUntil('bob to receive it', () =>
    bob.frames.received.some((f) => f.deliver?.entries.some((e) => e.message.text === 'muted chatter')),
  );
  await sleep(300);
  assert.equal((await shown(bob.page)).length, before, 'a muted chat is quiet');
  await send(alice.page, '@bob can you bring the stove?');
  await bob.page.waitForFunction((n) => window.shown.length === n + 1, before);
  const last = (await shown(bob.page)).at(-1);
  assert.equal(last.title, 'alice in Crag');
  assert.equal(last.body, '@bob can you bring the stove?');
  assert.equal(sentFrames(bob, 'markRead').some((m) => m.channel === group), false, 'hidden: nothing read');
  await setHidden(bob.page, false);
});
