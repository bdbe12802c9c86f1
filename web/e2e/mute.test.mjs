// Muting chats in a real browser against a real node (docs/protocol.md, "Muting";
// docs/web.md, "Muting"): bob mutes his chat with alice from the bell in its header; his
// other device follows at once (channelMute with request "0") and a new login reads it from
// channelList; a muted chat still counts its unread messages, in a grey badge left out of
// the total; he unmutes from the other device; a timed mute says until when, and ends by
// itself when that time passes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  badge,
  chatItem,
  logIn,
  newPerson,
  openChannel,
  openContact,
  rawDevice,
  recordFrames,
  screenshot,
  send,
  sentFrames,
  startFriends,
  tearDown,
  waitForMessages,
  waitUntil,
} from './harness.mjs';

const HOUR_US = 3_600_000_000;

let node;
let browser;
let alice;
let bob;
let carol;
let bob2; // a second device of bob's (another browser)
let withAlice; // bob and alice's 1:1 channel
let withCarol; // bob and carol's 1:1 channel

const isMuted = (page, channel) => chatItem(page, channel).getAttribute('data-muted');

// Waits until `page`'s chat list shows `channel` muted (or not), the bell icon with it.
async function waitForMuted(page, channel, muted, timeout = 10_000) {
  try {
    await chatItem(page, channel).and(page.locator(`[data-muted="${muted}"]`)).waitFor({ timeout });
  } catch {
    throw new Error(`expected chat ${channel} to show muted=${muted}, it shows ${await isMuted(page, channel)}`);
  }
  const icons = await chatItem(page, channel).locator('[data-testid=muted-icon]').count();
  assert.equal(icons, muted ? 1 : 0, 'the muted bell follows');
}

// The bell's menu in the open chat's header: its items' actions.
async function openBell(page) {
  await page.click('[data-testid=mute-toggle]');
  await page.locator('[data-testid=mute-menu]:not([hidden])').waitFor();
  return page.locator('[data-testid=mute-menu] [role=menuitem]').evaluateAll((all) => all.map((b) => b.dataset.action));
}

// Chooses `action` in the bell's menu and returns the node's channelMute answer.
async function chooseMute(person, action) {
  const before = sentFrames(person, 'muteChannel').length;
  await openBell(person.page);
  await person.page.click(`[data-testid=mute-menu] [data-action="${action}"]`);
  await person.page.locator('[data-testid=mute-menu]').waitFor({ state: 'hidden' });
  const request = await waitUntil(`muteChannel for ${action}`, () => sentFrames(person, 'muteChannel')[before]);
  const answer = await waitUntil(`the answer to muteChannel ${request.request}`, () =>
    person.frames.received.find(
      (f) => f.channelMute?.request === request.request || f.failure?.request === request.request,
    ),
  );
  assert.ok(answer.channelMute, `the node took the mute: ${JSON.stringify(answer)}`);
  return { request, answer: answer.channelMute };
}

// "HH:MM" as the page writes node time `us`.
const clockIn = (page, us) =>
  page.evaluate((t) => new Date(Number(t) / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), us);

// The total unread badge in the list header (its text, or null when hidden) and the tab's title.
const totalBadge = (page) =>
  page.evaluate(() => {
    const total = document.querySelector('#unread-total');
    return { total: total.hidden ? null : total.textContent, title: document.title };
  });

before(async () => {
  ({
    node,
    browser,
    people: { bob, alice, carol },
  } = await startFriends(['bob', 'alice', 'carol']));
});

after(() => tearDown(browser, node));

test('bob mutes a chat from the bell: his other device and a new login show it muted', async () => {
  // No channel yet with carol: nothing to mute, no bell.
  await openContact(bob.page, 'carol');
  assert.equal(await bob.page.locator('[data-testid=mute-toggle]').isHidden(), true);

  await openContact(alice.page, 'bob');
  await send(alice.page, 'Hello bob');
  await openContact(bob.page, 'alice');
  await waitForMessages(bob.page, ['Hello bob']);
  withAlice = alice.frames.received.find((f) => f.sendAck)?.sendAck.channel;
  assert.ok(withAlice);
  bob2 = await newPerson(browser, node);
  bob2.frames = recordFrames(bob2.page);
  await logIn(bob2.page, 'bob');
  await chatItem(bob2.page, withAlice).waitFor();
  await waitForMuted(bob2.page, withAlice, false);

  // The bell: four ways to mute, no Unmute while not muted; the keyboard starts on the first.
  assert.equal(await bob.page.getAttribute('[data-testid=mute-toggle]', 'data-muted'), 'false');
  assert.deepEqual(await openBell(bob.page), ['mute-1h', 'mute-8h', 'mute-1w', 'mute-forever']);
  assert.equal(await bob.page.evaluate(() => document.activeElement?.dataset.action), 'mute-1h');
  await bob.page.keyboard.press('Escape');
  await bob.page.locator('[data-testid=mute-menu]').waitFor({ state: 'hidden' });
  assert.equal(sentFrames(bob, 'muteChannel').length, 0, 'nothing sent');

  const { request, answer } = await chooseMute(bob, 'mute-forever');
  const { request: _, ...asked } = request;
  assert.deepEqual(asked, { channel: withAlice, forever: true });
  assert.deepEqual(answer, { request: request.request, channel: withAlice, mutedUntil: '0', forever: true });
  await waitForMuted(bob.page, withAlice, true);
  assert.equal(await bob.page.textContent('[data-testid=mute-label]'), 'Muted');
  assert.equal(await bob.page.getAttribute('[data-testid=mute-toggle]', 'data-muted'), 'true');
  assert.deepEqual(await openBell(bob.page), ['mute-1h', 'mute-8h', 'mute-1w', 'mute-forever', 'unmute']);
  await bob.page.keyboard.press('Escape');

  // bob's other device is told at once (request "0"), with no chat open there.
  await waitForMuted(bob2.page, withAlice, true);
  const told = bob2.frames.received.find((f) => f.channelMute)?.channelMute;
  assert.deepEqual(told, { request: '0', channel: withAlice, mutedUntil: '0', forever: true });
  // alice is told nothing: a mute is bob's own business.
  assert.equal(alice.frames.received.filter((f) => f.channelMute).length, 0);
  await waitForMuted(alice.page, withAlice, false);

  // A new device reads it from channelList.
  const bob3 = await newPerson(browser, node);
  bob3.frames = recordFrames(bob3.page);
  await logIn(bob3.page, 'bob');
  await waitForMuted(bob3.page, withAlice, true);
  const summary = bob3.frames.received
    .flatMap((f) => f.channelList?.channels ?? [])
    .find((c) => c.channel === withAlice);
  assert.equal(summary.mutedForever, true);
  assert.equal(summary.mutedUntil, '0');
  await openChannel(bob3.page, withAlice);
  assert.equal(await bob3.page.textContent('[data-testid=mute-label]'), 'Muted');
  await bob3.context.close();
});

test('a muted chat still counts unread, in a grey badge left out of the total', async () => {
  await openContact(carol.page, 'bob');
  await send(carol.page, 'hi bob'); // carol's first message makes their chat
  withCarol = await waitUntil('carol’s chat', () =>
    carol.frames.received.find((f) => f.sendAck)?.sendAck.channel,
  );
  await chatItem(bob.page, withCarol).waitFor();
  await openChannel(bob.page, withCarol); // bob reads carol's chat: alice's is not on screen
  await waitForMessages(bob.page, ['hi bob']);

  await send(alice.page, 'Are you there?');
  await send(alice.page, 'Call me');
  for (const page of [bob.page, bob2.page]) {
    await badge(page, withAlice).filter({ hasText: '2' }).waitFor();
    assert.match(await badge(page, withAlice).getAttribute('class'), /\bmuted\b/);
    const grey = await badge(page, withAlice).evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.equal(grey, 'rgb(156, 163, 175)', 'the muted chat’s badge is grey');
  }
  // Only unmuted chats count in the total and the tab's title: nothing else is unread.
  assert.deepEqual(await totalBadge(bob.page), { total: null, title: 'parley' });
});

test('bob unmutes on his other device; the first follows', async () => {
  await openChannel(bob2.page, withAlice); // he reads it there: the count goes on both
  await waitForMessages(bob2.page, ['Are you there?', 'Call me']);
  await badge(bob.page, withAlice).waitFor({ state: 'detached' });
  const { request, answer } = await chooseMute(bob2, 'unmute');
  assert.deepEqual(Object.keys(request).sort(), ['channel', 'request'], 'neither forUs nor forever: unmute');
  assert.deepEqual(answer, { request: request.request, channel: withAlice, mutedUntil: '0', forever: false });
  await waitForMuted(bob2.page, withAlice, false);
  assert.equal(await bob2.page.locator('[data-testid=mute-label]').isHidden(), true);
  // bob's first device: the bell goes, and the chat's unread count is blue and in the total
  // (the second device looks at carol's chat now, so the message stays unread).
  await waitForMuted(bob.page, withAlice, false);
  await openChannel(bob2.page, withCarol);
  await send(alice.page, 'Still there?');
  await badge(bob.page, withAlice).filter({ hasText: '1' }).waitFor();
  assert.doesNotMatch(await badge(bob.page, withAlice).getAttribute('class'), /\bmuted\b/);
  const blue = await badge(bob.page, withAlice).evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.notEqual(blue, 'rgb(156, 163, 175)');
  assert.deepEqual(await totalBadge(bob.page), { total: '1', title: '(1) parley' });
});

test('a timed mute says until when, and ends by itself', async () => {
  await openChannel(bob.page, withAlice);
  const now = Date.now() * 1000;
  const { request, answer } = await chooseMute(bob, 'mute-1h');
  assert.equal(request.forUs, String(HOUR_US));
  assert.equal(answer.forever, false);
  const until = Number(answer.mutedUntil);
  assert.ok(Math.abs(until - (now + HOUR_US)) < 60_000_000, `mutedUntil ${until} is an hour from now`);
  const label = `Muted until ${await clockIn(bob.page, answer.mutedUntil)}`;
  await bob.page.locator('[data-testid=mute-label]', { hasText: label }).waitFor();
  assert.equal(await bob.page.getAttribute('[data-testid=mute-toggle]', 'title'), label);
  await waitForMuted(bob2.page, withAlice, true);
  assert.equal(await chatItem(bob2.page, withAlice).locator('[data-testid=muted-icon]').getAttribute('title'), label);

  // Eight hours and a week answer as asked.
  assert.equal((await chooseMute(bob, 'mute-8h')).request.forUs, String(8 * HOUR_US));
  const week = await chooseMute(bob, 'mute-1w');
  assert.equal(week.request.forUs, String(7 * 24 * HOUR_US));
  // Not today: the date too.
  const day = await bob.page.evaluate(
    (t) => new Date(Number(t) / 1000).toLocaleDateString([], { day: 'numeric', month: 'short' }),
    week.answer.mutedUntil,
  );
  assert.equal(
    await bob.page.textContent('[data-testid=mute-label]'),
    `Muted until ${day}, ${await clockIn(bob.page, week.answer.mutedUntil)}`,
  );
  await openBell(bob.page);
  await screenshot(bob.page, 'mute');
  await bob.page.keyboard.press('Escape');

  // A mute of two seconds from a third device of bob's (the page offers none so short):
  // both pages show it, then drop it when it ends, with no frame telling them.
  const raw = await rawDevice(browser, node, 'bob');
  const short = (await raw.request('muteChannel', { channel: withAlice, forUs: '2000000' })).channelMute;
  assert.ok(short, 'the node took the short mute');
  for (const page of [bob.page, bob2.page]) {
    await page.waitForFunction(
      ([id, end]) =>
        document.querySelector(`[data-testid=chat-item][data-channel="${id}"] [data-testid=muted-icon]`)?.title ===
        `Muted until ${new Date(Number(end) / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`,
      [withAlice, short.mutedUntil],
    );
  }
  const mutes = [bob, bob2].map((person) => person.frames.received.filter((f) => f.channelMute).length);
  const start = Date.now();
  await waitForMuted(bob.page, withAlice, false, 6000);
  await waitForMuted(bob2.page, withAlice, false, 2000);
  const ended = Date.now() * 1000;
  assert.ok(ended >= Number(short.mutedUntil), 'not before the mute ended');
  assert.ok(Date.now() - start < 4000);
  assert.equal(await bob.page.locator('[data-testid=mute-label]').isHidden(), true);
  assert.equal(await bob.page.getAttribute('[data-testid=mute-toggle]', 'data-muted'), 'false');
  assert.deepEqual(
    [bob, bob2].map((person) => person.frames.received.filter((f) => f.channelMute).length),
    mutes,
    'no frame ended it',
  );
  await raw.close();
});
