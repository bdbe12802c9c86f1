// Replies and mentions in a real browser against a real node (docs/protocol.md, "Replies
// and mentions"; docs/web.md, "Replies" and "Mentions"): bob replies to alice from the ⋯
// menu and the quote shows on both sides, on alice's other device and after a reload; an
// edit or a delete of the original changes the quotes already shown, with nothing of a
// deleted text left in the page; a reply refused because its original was deleted says so
// and the composer goes on; in a group, @names are highlighted, the bubble of a message that
// mentions the reader is marked, the composer offers the members' names after `@`, and a
// newcomer sees "message unavailable" for a quote of a message from before they joined.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  actionsOn,
  bubble,
  chatItem,
  chooseAction,
  clickUntil,
  createGroup,
  delivered,
  goOffline,
  logIn,
  newPerson,
  noToast,
  openChannel,
  openContact,
  recordFrames,
  screenshot,
  send,
  sentFrames,
  seqOf,
  startFriends,
  tearDown,
  userId,
  waitForMessages,
  waitUntil,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;
let dave;
let eve;
let alice2; // a second device of alice's (another browser)
let direct; // alice and bob's 1:1 channel
let group; // alice's group with bob, carol and dave (eve joins later)
const ids = {}; // name -> user id

// What the quote at the top of message `seq` shows: {state, sender, text, italic}, or null.
const describeQuote = (page, seq) =>
  page.evaluate((s) => {
    const quote = document.querySelector(`#message-list [data-seq="${s}"] [data-testid=quote]`);
    if (!quote) return null;
    const text = quote.querySelector('.quote-text');
    return {
      state: quote.dataset.state,
      replyTo: quote.dataset.replyTo,
      sender: quote.querySelector('.quote-sender')?.textContent ?? null,
      text: text?.textContent ?? null,
      italic: text ? getComputedStyle(text).fontStyle === 'italic' : false,
    };
  }, seq);

// Waits until message `seq` of the open chat quotes `expected` (a subset of describeQuote's).
async function waitForQuote(page, seq, expected, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let shown = null;
  while (Date.now() < deadline) {
    shown = await describeQuote(page, seq);
    if (shown && Object.entries(expected).every(([key, value]) => shown[key] === value)) return shown;
    await page.waitForTimeout(50);
  }
  throw new Error(`expected message ${seq} to quote ${JSON.stringify(expected)}, it shows ${JSON.stringify(shown)}`);
}

// Reply in the ⋯ menu of message `seq`: the reply bar opens.
async function startReply(page, seq) {
  await chooseAction(page, seq, 'reply-message');
}

async function reply(page, seq, text) {
  await startReply(page, seq);
  await send(page, text);
  await page.locator('[data-testid=reply-bar]').waitFor({ state: 'hidden' });
}

const replyBarHidden = (page) => page.locator('[data-testid=reply-bar]').isHidden();

// The answer (a failure, or the sendAck) to `person`'s send of `text`, among the frames
// received from index `from` on (a reload starts the request ids afresh).
async function answerToSend(person, text, from) {
  const sent = await waitUntil(`the send of “${text}”`, () => sentFrames(person, 'send').findLast((f) => f.text === text));
  return waitUntil(`the answer to send ${sent.request}`, () =>
    person.frames.received
      .slice(from)
      .find((f) => f.sendAck?.request === sent.request || f.failure?.request === sent.request),
  );
}

// The mention spans of message `seq`: [{text, me}], and whether its bubble is marked.
const mentionsShown = (page, seq) =>
  page.evaluate((s) => {
    const li = document.querySelector(`#message-list [data-seq="${s}"]`);
    return {
      spans: [...li.querySelectorAll('.text [data-testid=mention]')].map((span) => ({
        text: span.textContent,
        me: span.classList.contains('me'),
      })),
      mentioned: li.dataset.mentioned === 'true',
      text: li.querySelector('.text').textContent,
    };
  }, seq);

before(async () => {
  ({
    node,
    browser,
    people: { alice, bob, carol, dave, eve },
  } = await startFriends(['alice', 'bob', 'carol', 'dave', 'eve']));
  for (const [name, person] of Object.entries({ alice, bob, carol, dave, eve })) ids[name] = await userId(person.page);
});

after(() => tearDown(browser, node));

test('bob replies to alice: the quote shows on both sides, on her other device and after a reload', async () => {
  await openContact(alice.page, 'bob');
  await send(alice.page, 'Climb at Smith Rock on Saturday?');
  await send(alice.page, 'Or the gym if it rains');
  // Enough after it that the original is out of sight when the reply is at the bottom.
  for (let i = 1; i <= 20; i++) await send(alice.page, `filler ${i}`);
  await waitForMessages(alice.page, ['filler 20']);
  direct = alice.frames.received.find((f) => f.sendAck)?.sendAck.channel;
  assert.ok(direct, 'alice got a sendAck');
  await openContact(bob.page, 'alice');
  await waitForMessages(bob.page, ['filler 20']);
  const original = await seqOf(bob.page, 'Smith Rock');
  alice2 = await newPerson(browser, node);
  alice2.frames = recordFrames(alice2.page);
  await logIn(alice2.page, 'alice');
  await openChannel(alice2.page, direct);
  await waitForMessages(alice2.page, ['filler 20']);

  // Reply is offered on someone else's message; the bar says what is answered.
  assert.deepEqual(await actionsOn(bob.page, original), ['reply']);
  await startReply(bob.page, original);
  assert.equal(await bob.page.locator('#reply-name').textContent(), 'Replying to alice');
  assert.equal(await bob.page.locator('[data-testid=reply-text]').textContent(), 'Climb at Smith Rock on Saturday?');
  assert.equal(
    await bob.page.evaluate(() => document.activeElement?.id),
    'composer-text',
    'the composer has the focus',
  );
  // Esc and ✕ each end it without sending anything.
  await bob.page.press('#composer-text', 'Escape');
  assert.equal(await replyBarHidden(bob.page), true, 'Esc ends the reply');
  await startReply(bob.page, original);
  await bob.page.click('#reply-cancel');
  assert.equal(await replyBarHidden(bob.page), true, '✕ ends the reply');
  assert.equal(sentFrames(bob, 'send').length, 0, 'nothing sent');

  // A send after cancelling is no reply; one with the bar open is.
  await send(bob.page, 'Hi!');
  await waitForMessages(alice.page, ['Hi!']);
  const from = bob.frames.received.length;
  await reply(bob.page, original, 'Saturday works, 9am?');
  // The page's frames reach the test a little after the page shows them sent.
  const sends = await waitUntil('the reply to go out', () => {
    const all = sentFrames(bob, 'send');
    return all.at(-1)?.text === 'Saturday works, 9am?' && all;
  });
  assert.equal(sends.at(-2).replyTo ?? '0', '0', 'a plain message carries no replyTo');
  assert.equal(sends.at(-1).replyTo, original);
  assert.equal(sends.at(-1).text, 'Saturday works, 9am?');
  assert.ok((await answerToSend(bob, 'Saturday works, 9am?', from)).sendAck, 'the node took the reply');

  // Every page shows the quote above the reply: sender and text.
  for (const [page, sender] of [
    [bob.page, 'alice'],
    [alice.page, 'You'],
    [alice2.page, 'You'],
  ]) {
    await waitForMessages(page, ['Hi!', 'Saturday works, 9am?']);
    const seq = await seqOf(page, 'Saturday works');
    await waitForQuote(page, seq, { state: 'text', sender, text: 'Climb at Smith Rock on Saturday?', replyTo: original });
    assert.equal(await describeQuote(page, await seqOf(page, 'Hi!')), null, 'a plain message quotes nothing');
  }
  const served = delivered(alice).find((m) => m.text === 'Saturday works, 9am?');
  assert.equal(served.replyTo, original);
  assert.deepEqual(served.quote, {
    sender: ids.alice,
    text: 'Climb at Smith Rock on Saturday?',
    edited: false,
    deleted: false,
    unavailable: false,
  });

  // A click on the quote scrolls to the original and highlights it for a moment.
  const replySeq = await seqOf(alice.page, 'Saturday works');
  const inView = (s) => {
    const box = document.querySelector('#messages').getBoundingClientRect();
    const li = document.querySelector(`#message-list [data-seq="${s}"]`).getBoundingClientRect();
    return li.top >= box.top && li.bottom <= box.bottom;
  };
  assert.equal(await alice.page.evaluate(inView, original), false, 'the original is out of sight before the click');
  assert.equal(await alice.page.locator('[data-highlighted=true]').count(), 0);
  await bubble(alice.page, replySeq).locator('[data-testid=quote]').click();
  await bubble(alice.page, original).and(alice.page.locator('[data-highlighted=true]')).waitFor();
  await alice.page.waitForFunction(inView, original, { timeout: 5000 });
  await alice.page.waitForFunction(() => !document.querySelector('[data-highlighted=true]'), null, { timeout: 5000 });

  // bob reloads: the reply comes from history, quote and all.
  const historyFrom = bob.frames.received.length;
  await bob.page.reload();
  await bob.page.locator('[data-testid=status][data-state=online]').waitFor();
  await openChannel(bob.page, direct);
  await waitForMessages(bob.page, ['Saturday works, 9am?']);
  const page = bob.frames.received.slice(historyFrom).find((f) => f.historyPage)?.historyPage;
  assert.ok(page?.messages.some((m) => m.replyTo === original && m.quote?.text === 'Climb at Smith Rock on Saturday?'));
  await waitForQuote(bob.page, replySeq, { state: 'text', sender: 'alice', text: 'Climb at Smith Rock on Saturday?' });
  await noToast(alice, bob, alice2);
});

test('an edit or a delete of the original changes the quotes already shown', async () => {
  const original = await seqOf(alice.page, 'Smith Rock');
  const replySeq = await seqOf(alice.page, 'Saturday works');
  const historyBefore = sentFrames(bob, 'history').length;

  // Editing and replying exclude each other: Edit ends a reply, Reply ends an edit.
  await alice.page.fill('#composer-text', 'a draft');
  await startReply(alice.page, replySeq);
  await chooseAction(alice.page, original, 'edit-message');
  assert.equal(await replyBarHidden(alice.page), true, 'Edit ended the reply');
  await startReply(alice.page, replySeq);
  assert.equal(await alice.page.locator('[data-testid=edit-bar]').isHidden(), true, 'Reply ended the edit');
  assert.equal(await alice.page.inputValue('#composer-text'), 'a draft', 'the draft is back');
  await alice.page.press('#composer-text', 'Escape');
  await alice.page.fill('#composer-text', '');

  // alice edits the original: every quote of it follows, with no history asked again.
  await chooseAction(alice.page, original, 'edit-message');
  await alice.page.fill('#composer-text', 'Climb at Smith Rock on Sunday?');
  await alice.page.press('#composer-text', 'Enter');
  await alice.page.locator('[data-testid=edit-bar]').waitFor({ state: 'hidden' });
  for (const [page, sender] of [
    [alice.page, 'You'],
    [alice2.page, 'You'],
    [bob.page, 'alice'],
  ]) {
    await waitForQuote(page, replySeq, { state: 'text', sender, text: 'Climb at Smith Rock on Sunday?' });
  }
  assert.equal(sentFrames(bob, 'history').length, historyBefore, 'the quote changed without asking history');

  // alice deletes it: the quotes say "deleted", in italics, and the text is gone.
  await chooseAction(alice.page, original, 'delete-message');
  await alice.page.click('[data-testid=confirm-delete]');
  for (const person of [alice, alice2, bob]) {
    const shown = await waitForQuote(person.page, replySeq, { state: 'deleted', text: 'deleted' });
    assert.equal(shown.italic, true, '"deleted" is in italics');
    assert.ok(!(await person.page.content()).includes('Smith Rock'), 'nothing of the deleted text is in the page');
  }
  assert.equal(sentFrames(bob, 'history').length, historyBefore);
  // A deleted message cannot be replied to: its tombstone has no ⋯ at all.
  assert.deepEqual(await actionsOn(bob.page, original), []);

  // After a reload the node's quote says the same.
  const from = bob.frames.received.length;
  await bob.page.reload();
  await bob.page.locator('[data-testid=status][data-state=online]').waitFor();
  await openChannel(bob.page, direct);
  await waitForMessages(bob.page, ['Saturday works, 9am?']);
  const served = bob.frames.received
    .slice(from)
    .flatMap((f) => f.historyPage?.messages ?? [])
    .find((m) => m.seq === replySeq);
  // (Edited and then deleted: the node's quote says both.)
  assert.deepEqual(served?.quote, { sender: ids.alice, text: '', edited: true, deleted: true, unavailable: false });
  await waitForQuote(bob.page, replySeq, { state: 'deleted', sender: 'alice', text: 'deleted' });
  await noToast(alice, bob, alice2);
});

test('a reply to a message deleted meanwhile is refused with the reason, and the composer goes on', async () => {
  await send(alice.page, 'Bring snacks?');
  await waitForMessages(bob.page, ['Bring snacks?']);
  const original = await seqOf(bob.page, 'Bring snacks?');

  // bob is offline while he replies: the reply waits in his outbox, and alice deletes the
  // message meanwhile. Back online, the outbox sends it and the node refuses it.
  await goOffline(bob, node);
  await reply(bob.page, original, 'Chips and dates');
  await bob.page.locator('[data-testid=pending]', { hasText: 'Chips and dates' }).waitFor();
  assert.equal(
    (await bob.page.locator('[data-testid=pending] [data-testid=quote-text]').textContent()).trim(),
    'Bring snacks?',
    'a reply waiting in the outbox shows its quote',
  );
  await chooseAction(alice.page, original, 'delete-message');
  await alice.page.click('[data-testid=confirm-delete]');
  await bubble(alice.page, original).and(alice.page.locator('[data-deleted=true]')).waitFor();
  const from = bob.frames.received.length;
  await bob.context.setOffline(false);

  const answer = await answerToSend(bob, 'Chips and dates', from);
  assert.equal(answer.failure?.code, 'message_deleted');
  assert.equal(sentFrames(bob, 'send').findLast((f) => f.text === 'Chips and dates').replyTo, original);
  const failed = bob.page.locator('[data-testid=failed]', { hasText: 'Chips and dates' });
  await failed.locator('.meta', { hasText: 'Not sent: The message you replied to was deleted.' }).waitFor();
  await bob.page.locator('#toast', { hasText: 'The message you replied to was deleted.' }).waitFor();
  assert.equal(await replyBarHidden(bob.page), true);

  // The composer goes on: the next message is sent, as no reply.
  assert.equal(await bob.page.locator('#composer-text').isEditable(), true);
  await send(bob.page, 'Never mind, I will bring both');
  assert.ok((await answerToSend(bob, 'Never mind, I will bring both', from)).sendAck);
  assert.equal(sentFrames(bob, 'send').findLast((f) => f.text.startsWith('Never mind')).replyTo ?? '0', '0');
  await waitForMessages(alice.page, ['Never mind, I will bring both']);
  // The sender's list redraws as receipts come in: click until the bubble goes.
  await clickUntil(() => failed.locator('button', { hasText: 'Dismiss' }), failed, 'detached');
  await bob.page.locator('#toast').waitFor({ state: 'hidden' }); // before the next test's checks
});

test('in a group, @names are highlighted and a message that mentions you is marked', async () => {
  group = await createGroup(alice.page, 'Route setters', ['bob', 'carol', 'dave']);
  for (const person of [bob, carol, dave]) {
    await chatItem(person.page, group).waitFor();
    await openChannel(person.page, group);
  }

  // `@Bob.`: case does not matter and the trailing dot is dropped; an address is no mention.
  const text = 'Who has the rope? @Bob. or ask ann@example.org';
  await send(alice.page, text);
  for (const person of [alice, bob, carol, dave]) await waitForMessages(person.page, [text]);
  const seq = await seqOf(alice.page, 'Who has the rope?');
  assert.deepEqual(delivered(bob).find((m) => m.seq === seq && m.channel === group).mentions, [ids.bob]);

  const onBob = await mentionsShown(bob.page, seq);
  assert.deepEqual(onBob, { spans: [{ text: '@Bob', me: true }], mentioned: true, text });
  const onCarol = await mentionsShown(carol.page, seq);
  assert.deepEqual(onCarol, { spans: [{ text: '@Bob', me: false }], mentioned: false, text });
  assert.deepEqual(await mentionsShown(alice.page, seq), { spans: [{ text: '@Bob', me: false }], mentioned: false, text });
  // The marked bubble looks different: a left border the others do not have.
  const border = (page) => bubble(page, seq).evaluate((li) => getComputedStyle(li).borderLeftWidth);
  assert.notEqual(await border(bob.page), await border(carol.page));

  // A name nobody has, or no @, highlights nothing.
  await send(alice.page, 'bob and @zed, see you at 9');
  await waitForMessages(bob.page, ['bob and @zed, see you at 9']);
  const plain = await seqOf(bob.page, 'see you at 9');
  assert.deepEqual(await mentionsShown(bob.page, plain), {
    spans: [],
    mentioned: false,
    text: 'bob and @zed, see you at 9',
  });

  // An edit's mentions replace the original's: now carol is named, and bob is not.
  await chooseAction(alice.page, seq, 'edit-message');
  await alice.page.fill('#composer-text', 'Who has the rope? @carol');
  await alice.page.press('#composer-text', 'Enter');
  await waitForMessages(carol.page, ['Who has the rope? @carol', 'bob and @zed, see you at 9']);
  await waitUntil('bob to receive the edit', () => delivered(bob).some((m) => m.kind === 'edited'));
  await bob.page.locator(`[data-seq="${seq}"] .text`, { hasText: '@carol' }).waitFor();
  assert.deepEqual(await mentionsShown(carol.page, seq), {
    spans: [{ text: '@carol', me: true }],
    mentioned: true,
    text: 'Who has the rope? @carol',
  });
  assert.deepEqual(await mentionsShown(bob.page, seq), {
    spans: [{ text: '@carol', me: false }],
    mentioned: false,
    text: 'Who has the rope? @carol',
  });
  await noToast(alice, bob, carol, dave);
});

test('typing @ in a group offers the members’ names', async () => {
  const box = carol.page.locator('#composer-text');
  const list = carol.page.locator('[data-testid=mention-suggestions]');
  const offered = () => list.locator('[data-testid=mention-suggestion]').allTextContents();
  await box.fill('');
  await box.pressSequentially('I can @', { delay: 20 });
  await list.waitFor();
  assert.deepEqual(await offered(), ['@alice', '@bob', '@dave'], 'the other members, by name');
  assert.equal(await list.locator('[aria-selected=true]').textContent(), '@alice', 'the first is chosen');
  await box.pressSequentially('d', { delay: 20 });
  assert.deepEqual(await offered(), ['@dave']);
  await box.press('Backspace');
  assert.deepEqual(await offered(), ['@alice', '@bob', '@dave']);
  assert.equal(await list.locator('[aria-selected=true]').textContent(), '@dave', 'the choice stays');
  await box.press('ArrowUp');
  assert.equal(await list.locator('[aria-selected=true]').textContent(), '@bob');
  await box.press('Enter'); // picks the name: nothing is sent
  await list.waitFor({ state: 'hidden' });
  assert.equal(await box.inputValue(), 'I can @bob ');
  await box.pressSequentially('lend you mine. @a', { delay: 20 });
  await list.waitFor();
  await box.press('Escape'); // closes the list only
  await list.waitFor({ state: 'hidden' });
  for (let i = 0; i < 3; i++) await box.press('Backspace'); // "@a" and the space before it
  await box.press('Enter');
  await waitForMessages(bob.page, ['I can @bob lend you mine.']);
  const seq = await seqOf(bob.page, 'lend you mine');
  assert.deepEqual((await mentionsShown(bob.page, seq)).spans, [{ text: '@bob', me: true }]);

  // Not in a 1:1 chat.
  await openChannel(alice.page, direct);
  await alice.page.locator('#composer-text').pressSequentially('@b', { delay: 20 });
  assert.equal(await alice.page.locator('[data-testid=mention-suggestions]').isHidden(), true);
  await alice.page.fill('#composer-text', '');
  await openChannel(alice.page, group);
});

test('replies in a group: the quote everywhere, and “message unavailable” for a newcomer', async () => {
  const original = await seqOf(carol.page, 'Who has the rope?');
  await reply(dave.page, original, 'Mine is at the gym @alice');
  for (const person of [alice, bob, carol, dave]) await waitForMessages(person.page, ['Mine is at the gym @alice']);
  const seq = await seqOf(dave.page, 'Mine is at the gym');
  await waitForQuote(carol.page, seq, { state: 'text', sender: 'alice', text: 'Who has the rope? @carol' });
  await waitForQuote(alice.page, seq, { state: 'text', sender: 'You', text: 'Who has the rope? @carol' });
  await waitForQuote(dave.page, seq, { state: 'text', sender: 'alice', text: 'Who has the rope? @carol' });
  assert.equal((await mentionsShown(alice.page, seq)).mentioned, true, 'a reply can mention too');

  // eve joins: a reply after that to a message from before quotes nothing she may not read.
  await alice.page.click('#members-toggle');
  await alice.page.selectOption('#member-add', { label: 'eve' });
  await alice.page.click('#member-form button[type=submit]');
  await alice.page.locator('[data-testid=member]', { hasText: 'eve' }).waitFor();
  await alice.page.click('#members-toggle');
  await chatItem(eve.page, group).waitFor();
  await openChannel(eve.page, group);
  await reply(bob.page, original, 'Welcome eve! Mine too');
  await waitForMessages(eve.page, ['Welcome eve! Mine too']);
  const late = await seqOf(eve.page, 'Welcome eve!');
  const shown = await waitForQuote(eve.page, late, { state: 'unavailable', text: 'message unavailable' });
  assert.equal(shown.sender, null, 'no sender shown');
  assert.deepEqual(delivered(eve).find((m) => m.seq === late && m.channel === group).quote, {
    sender: '0',
    text: '',
    edited: false,
    deleted: false,
    unavailable: true,
  });
  assert.ok(!(await eve.page.content()).includes('Who has the rope'), 'nothing of it on eve’s page');
  await waitForQuote(carol.page, late, { state: 'text', sender: 'alice', text: 'Who has the rope? @carol' });

  // bob's page for the README: a quote, a mention of him, and a reply being written.
  await send(carol.page, '@bob can you bring the quickdraws too?');
  await waitForMessages(bob.page, ['@bob can you bring the quickdraws too?']);
  await startReply(bob.page, await seqOf(bob.page, 'bring the quickdraws'));
  await bob.page.locator('#composer-text').pressSequentially('Sure, all twelve', { delay: 10 });
  await screenshot(bob.page, 'replies');
  await bob.page.press('#composer-text', 'Enter');
  await waitForMessages(carol.page, ['Sure, all twelve']);
  await waitForQuote(carol.page, await seqOf(carol.page, 'Sure, all twelve'), {
    state: 'text',
    sender: 'You',
    text: '@bob can you bring the quickdraws too?',
  });
  await noToast(alice, bob, carol, dave, eve);
});
