// Typing indicators in a real browser against a real node (docs/protocol.md, "Typing
// indicators"; docs/web.md): what alice types shows on bob's page as "alice is typing…"
// until she clears the composer, sends, or stops for the ttl; a group names two typists and
// counts more; a refused typing frame is not shown to anyone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createGroup,
  openChat,
  openContact,
  screenshot,
  send,
  startFriends,
  tearDown,
  waitForMessages,
  waitUntil,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;
let dave;

const typingLine = (page) => page.locator('#typing').textContent();

// Waits until the open chat's typing line reads one of `texts` ('' for nobody typing).
async function waitForTyping(page, texts, timeout = 10_000) {
  const wanted = Array.isArray(texts) ? texts : [texts];
  try {
    await page.waitForFunction((w) => w.includes(document.getElementById('typing').textContent), wanted, {
      timeout,
    });
  } catch {
    const shown = JSON.stringify(await typingLine(page));
    throw new Error(`expected the typing line to read ${JSON.stringify(wanted)}, it reads ${shown}`);
  }
}

// Keystrokes, as a person makes them: one input event each.
const type = (page, text) => page.locator('#composer-text').pressSequentially(text, { delay: 20 });

// A person who types `text` and keeps typing (a key and its Backspace, over and over) until
// stopped, so their client keeps renewing the indicator; returns the function that stops them.
function keepTyping(page, text) {
  let going = true;
  const done = (async () => {
    await type(page, text);
    while (going) {
      await page.press('#composer-text', 'x');
      await page.press('#composer-text', 'Backspace');
      await sleep(200);
    }
  })();
  return async () => {
    going = false;
    await done;
  };
}

const typingFrames = (frames, direction) => frames[direction].filter((f) => f.typing).map((f) => f.typing);

before(async () => {
  ({
    node,
    browser,
    people: { alice, bob, carol, dave },
  } = await startFriends(['alice', 'bob', 'carol', 'dave']));
});

after(() => tearDown(browser, node));

test('alice typing to bob shows on his page until she clears the composer, pauses, or sends', async () => {
  // A first message to a contact has no channel yet: typing it sends no typing frame.
  await openContact(alice.page, 'bob');
  await type(alice.page, 'hello');
  await alice.page.press('#composer-text', 'Enter');
  const sendAt = await waitUntil('alice to send her first message', () => {
    const index = alice.frames.sent.findIndex((f) => f.send);
    return index >= 0 ? index + 1 : null;
  });
  assert.ok(!alice.frames.sent.slice(0, sendAt).some((f) => f.typing), 'no typing frame before the chat has a channel');
  await openChat(bob.page, 'alice');
  await waitForMessages(bob.page, ['hello']);
  await waitForTyping(bob.page, '');

  // alice types: bob sees it under the messages, from her first keystroke on.
  const sentBefore = typingFrames(alice.frames, 'sent').length;
  const typingFrom = Date.now();
  await type(alice.page, 'Are you coming on Saturday?');
  await waitForTyping(bob.page, 'alice is typing…');
  // One start, then at most one per 3 s however many keystrokes.
  const starts = typingFrames(alice.frames, 'sent').slice(sentBefore);
  assert.ok(starts.length >= 1 && starts.every((t) => t.typing === true && t.channel && t.request));
  assert.ok(
    starts.length <= 1 + Math.floor((Date.now() - typingFrom) / 3000),
    `${starts.length} starts for ${'Are you coming on Saturday?'.length} keystrokes`,
  );
  const received = typingFrames(bob.frames, 'received').at(-1);
  assert.equal(received.typing, true);
  assert.equal(received.ttlUs, '6000000');
  await screenshot(bob.page, 'typing');

  // alice clears the composer: a stop, and the line on bob's page empties. The wait is
  // shorter than the 6 s ttl, so it is the stop that hides it.
  const receivedBefore = typingFrames(bob.frames, 'received').length;
  await alice.page.fill('#composer-text', '');
  await waitUntil('bob to receive the stop', () =>
    typingFrames(bob.frames, 'received').slice(receivedBefore).some((t) => t.typing === false),
  );
  await waitForTyping(bob.page, '', 3000);

  // alice types, then pauses with text in the composer: no keystroke, no renewal, no stop.
  // bob's indicator goes away by itself at the ttl.
  await type(alice.page, 'One moment');
  await waitForTyping(bob.page, 'alice is typing…');
  const receivedAtPause = typingFrames(bob.frames, 'received').length;
  await waitForTyping(bob.page, '', 15_000);
  assert.ok(
    typingFrames(bob.frames, 'received').slice(receivedAtPause).every((t) => t.typing),
    'the indicator expired: no stop was sent',
  );

  // alice types on (a new start: the last was more than 3 s ago) and sends: the message
  // ends the indicator, with no stop frame.
  await type(alice.page, ', yes: 10am');
  await waitForTyping(bob.page, 'alice is typing…');
  const sentAtSend = typingFrames(alice.frames, 'sent').length;
  await alice.page.press('#composer-text', 'Enter');
  await waitForMessages(bob.page, ['hello', 'One moment, yes: 10am']);
  assert.equal(await typingLine(bob.page), '', 'the message and the end of the indicator are drawn together');
  await waitForMessages(alice.page, ['hello', 'One moment, yes: 10am']);
  assert.deepEqual(typingFrames(alice.frames, 'sent').slice(sentAtSend), [], 'no stop after a send');
  assert.equal(await alice.page.locator('#toast').isVisible(), false);
});

test('in a group bob sees who is typing: one name, two names, then a count', async () => {
  await createGroup(alice.page, 'Climbing', ['bob', 'carol', 'dave']);
  await openChat(carol.page, 'Climbing');
  await openChat(dave.page, 'Climbing');

  // bob has his chat with alice open: the group's row in his chat list says who types there.
  await openChat(bob.page, 'alice');
  const bobsGroupRow = bob.page.locator('[data-testid=chat-item]', { hasText: 'Climbing' });
  await bobsGroupRow.waitFor();
  const stopAlice = keepTyping(alice.page, 'Who is in');
  await bobsGroupRow.locator('[data-testid=chat-typing]', { hasText: 'alice is typing…' }).waitFor();
  await waitForTyping(bob.page, '');

  await openChat(bob.page, 'Climbing');
  await waitForTyping(bob.page, 'alice is typing…');
  const stopCarol = keepTyping(carol.page, 'Me');
  await waitForTyping(bob.page, ['alice and carol are typing…', 'carol and alice are typing…']);
  await screenshot(bob.page, 'typing-group');
  const stopDave = keepTyping(dave.page, 'Maybe');
  await waitForTyping(bob.page, '3 people are typing…');

  // carol sends: she is no longer typing; the other two still are.
  await stopCarol();
  await send(carol.page, 'Me! 10am');
  await waitForMessages(bob.page, ['Me! 10am']);
  await waitForTyping(bob.page, ['alice and dave are typing…', 'dave and alice are typing…']);

  // alice and dave clear their composers: nobody is typing.
  await stopAlice();
  await stopDave();
  await alice.page.fill('#composer-text', '');
  await dave.page.fill('#composer-text', '');
  await waitForTyping(bob.page, '', 3000);
  for (const person of [alice, bob, carol, dave]) assert.equal(await person.page.locator('#toast').isVisible(), false);
});

test('a refused typing frame is dropped quietly: no error is shown', async () => {
  // bob blocks alice (over the HTTP API, as another of his apps could).
  const status = await bob.page.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const response = await fetch('/v1/contacts', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'alice', action: 'block' }),
    });
    return response.status;
  });
  assert.equal(status, 200);
  // The block makes bob's chat with alice a message request (engine rule 22). His page learns
  // it from the presence frame that ends their friendship, and moves the chat to Requests.
  await bob.page.locator('[data-testid=requests-entry]').click();
  await bob.page.locator('[data-testid=request-item]', { hasText: 'alice' }).click();
  await bob.page.locator('[data-testid=request-banner]').waitFor();
  const receivedBefore = typingFrames(bob.frames, 'received').length;

  await openChat(alice.page, 'bob');
  const sentBefore = alice.frames.sent.length;
  await type(alice.page, 'Still there?');
  const start = await waitUntil('alice to send a start', () =>
    alice.frames.sent.slice(sentBefore).find((f) => f.typing),
  );
  const refusal = await waitUntil("the refusal of alice's start", () =>
    alice.frames.received.find((f) => f.failure?.request === start.typing.request),
  );
  assert.equal(refusal.failure.code, 'blocked');
  // The failure has been handled by now if it ever would be: alice's page shows no error,
  // and nothing reached bob.
  await alice.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  assert.equal(await alice.page.locator('#toast').isVisible(), false, 'no error banner for a refused typing frame');
  assert.equal(await alice.page.locator('[data-testid=status]').getAttribute('data-state'), 'online');
  const toBob = typingFrames(bob.frames, 'received').slice(receivedBefore);
  assert.deepEqual(toBob.filter((t) => t.channel === start.typing.channel), [], 'nothing reached bob');
  assert.equal(await typingLine(bob.page), '');
  await alice.page.fill('#composer-text', '');
});
