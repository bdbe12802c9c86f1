// Delivery and read receipts in a real browser against a real node (docs/protocol.md,
// "Receipts"; docs/web.md, "Receipts"): alice's messages show ✓ once stored, ✓✓ once on a
// device of bob's, and read once bob has the chat on screen; a group says "read by N of M"
// and lists who; bob's read clears the unread badge on his other device; with read receipts
// off bob's reads are never shown, and he sees no one's.
//
// A page's visibility is faked by shadowing document.visibilityState (headless Chromium
// shows every page), which is all the client reads.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  badge,
  chatItem,
  createGroup,
  goOffline,
  logIn,
  newPerson,
  openChannel,
  openContact,
  recordFrames,
  screenshot,
  send,
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
let bob2; // a second device of bob's (another tab)
let direct; // alice and bob's 1:1 channel
let group; // alice, bob and carol's group

// One of `page`'s own messages, by text.
const mine = (page, text) => page.locator('li.mine', { hasText: text });

async function receiptState(page, text) {
  return mine(page, text).locator('[data-testid=receipt]').getAttribute('data-state', { timeout: 1000 }).catch(() => 'none');
}

// Waits until `page`'s message `text` shows the receipt `state` (sent, delivered, read).
async function waitForReceipt(page, text, state, timeout = 10_000) {
  try {
    await mine(page, text).locator(`[data-testid=receipt][data-state="${state}"]`).waitFor({ timeout });
  } catch {
    throw new Error(`expected “${text}” to show ${state}, it shows ${await receiptState(page, text)}`);
  }
}

// Shadows (or restores) the page's visibility, and tells the page it changed.
async function setHidden(page, hidden) {
  await page.evaluate((hide) => {
    if (hide) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    else delete document.visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

const markReads = (person, channel) =>
  person.frames.sent.filter((f) => f.markRead?.channel === channel).map((f) => f.markRead);

// A `receipts` frame answering a queryReceipts for `channel` (request "0" is no answer: one
// commit's receipts, coalesced).
const answersFor = (frame, channel) => frame.receipts?.channel === channel && frame.receipts.request !== '0';

// The answer to the next queryReceipts `person` sends for `channel` after `from` frames.
async function nextReceipts(person, channel, from) {
  return waitUntil(`a receipts answer for channel ${channel}`, () =>
    person.frames.received.slice(from).find((f) => answersFor(f, channel))?.receipts,
  );
}

// Every receipt `person` was told, one per member entry: `receipt` frames and the entries of
// coalesced `receipts` (request "0"), each as {channel, user, deliveredSeq, readSeq}.
const receiptsTold = (person) =>
  person.frames.received.flatMap((f) => {
    if (f.receipt) return [f.receipt];
    if (f.receipts?.request === '0') return f.receipts.entries.map((e) => ({ channel: f.receipts.channel, ...e }));
    return [];
  });

before(async () => {
  ({
    node,
    browser,
    people: { alice, bob, carol },
  } = await startFriends(['alice', 'bob', 'carol']));
});

after(() => tearDown(browser, node));

test('1:1: ✓ when stored, ✓✓ when on bob’s device, read once bob has the chat on screen', async () => {
  // Each page asks for its setting after welcome: on, and the toggle says so.
  await waitUntil('bob to ask for his settings', () => bob.frames.sent.some((f) => f.settings));
  await bob.page.click('#settings-toggle');
  await bob.page.locator('#read-receipts:checked:enabled').waitFor();
  await bob.page.click('#settings-toggle');

  // bob is offline: alice's message is stored (✓) but cannot reach him.
  await goOffline(bob, node);
  await openContact(alice.page, 'bob');
  await send(alice.page, 'Dinner at 8?');
  await waitForMessages(alice.page, ['Dinner at 8?']);
  direct = alice.frames.received.find((f) => f.sendAck)?.sendAck.channel;
  assert.ok(direct, 'alice got a sendAck');
  await waitForReceipt(alice.page, 'Dinner at 8?', 'sent');
  const first = await seqOf(alice.page, 'Dinner at 8?');

  // bob comes back, with no chat open: his page receives it (unread), and alice sees ✓✓.
  await bob.context.setOffline(false);
  await bob.page.locator('[data-testid=status][data-state=online]').waitFor();
  await badge(bob.page, direct).filter({ hasText: '1' }).waitFor();
  await waitForReceipt(alice.page, 'Dinner at 8?', 'delivered');
  assert.deepEqual(markReads(bob, direct), [], 'no markRead for a chat that is not open');

  // bob opens the chat while his page is hidden: the message shows, but it is not read yet.
  await setHidden(bob.page, true);
  await openChannel(bob.page, direct);
  await waitForMessages(bob.page, ['Dinner at 8?']);
  await waitUntil('bob to ask for the receipts of the open chat', () =>
    bob.frames.received.some((f) => answersFor(f, direct)),
  );
  assert.deepEqual(markReads(bob, direct), [], 'no markRead while the page is hidden');
  assert.equal(await badge(bob.page, direct).textContent(), '1', 'still unread while hidden');
  assert.equal(await receiptState(alice.page, 'Dinner at 8?'), 'delivered');

  // The page shows: bob marks the chat read up to the message, and alice sees it read.
  await setHidden(bob.page, false);
  await waitForReceipt(alice.page, 'Dinner at 8?', 'read');
  assert.deepEqual(
    markReads(bob, direct).map((m) => m.seq),
    [first],
  );
  await badge(bob.page, direct).waitFor({ state: 'detached' });

  // Hidden again with the chat open: a new message is delivered, not read. Then bob drops
  // off and the next one is only stored: the screenshot shows all three ticks.
  await setHidden(bob.page, true);
  await send(alice.page, "I'll book a table");
  await waitForReceipt(alice.page, "I'll book a table", 'delivered');
  await goOffline(bob, node);
  await send(alice.page, "At Luigi's");
  await waitForMessages(alice.page, ['Dinner at 8?', "I'll book a table", "At Luigi's"]);
  await waitForReceipt(alice.page, "At Luigi's", 'sent');
  assert.equal(await receiptState(alice.page, 'Dinner at 8?'), 'read');
  assert.equal(await receiptState(alice.page, "I'll book a table"), 'delivered');
  await screenshot(alice.page, 'receipts');

  // bob is back, looking: both are read, in markReads that only ever go up.
  await setHidden(bob.page, false);
  await bob.context.setOffline(false);
  await waitForReceipt(alice.page, "At Luigi's", 'read');
  await waitForReceipt(alice.page, "I'll book a table", 'read');
  const last = await seqOf(alice.page, "At Luigi's");
  const seqs = markReads(bob, direct).map((m) => BigInt(m.seq));
  assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), `markReads go up: ${seqs}`);
  assert.equal(seqs.at(-1), BigInt(last));
  assert.ok(seqs.length <= 3, `${seqs.length} markReads for three messages read in two moments`);

  // bob answers: no markRead for his own message; alice reads it, and bob sees that.
  const before = markReads(bob, direct).length;
  await send(bob.page, 'Perfect');
  await waitForMessages(alice.page, ["At Luigi's", 'Perfect']);
  await waitForReceipt(bob.page, 'Perfect', 'read');
  assert.equal(markReads(bob, direct).length, before, 'no markRead for what bob sent himself');
  for (const person of [alice, bob]) assert.equal(await person.page.locator('#toast').isVisible(), false);
});

test('a group: “read by 1 of 2” once bob reads, and the list says it was bob', async () => {
  group = await createGroup(alice.page, 'Dinner club', ['bob', 'carol']);
  assert.equal(group, alice.frames.received.findLast((f) => f.groupCreated)?.groupCreated.channel);

  // bob has his 1:1 chat open and carol none: it reaches both, and nobody has read it.
  await send(alice.page, 'Who is in on Friday?');
  await waitForReceipt(alice.page, 'Who is in on Friday?', 'delivered');
  assert.equal(await mine(alice.page, 'Who is in on Friday?').locator('[data-testid=read-by]').count(), 0);

  await openChannel(bob.page, group);
  await waitForMessages(bob.page, ['Who is in on Friday?']);
  const readBy = mine(alice.page, 'Who is in on Friday?').locator('[data-testid=read-by]');
  await readBy.filter({ hasText: 'read by 1 of 2' }).waitFor();
  assert.equal(await receiptState(alice.page, 'Who is in on Friday?'), 'delivered', 'not read by everyone yet');

  // The list behind it: bob read it; carol has it.
  await readBy.click();
  const readers = alice.page.locator('[data-testid=readers] [data-testid=reader]');
  await alice.page.locator('#readers-panel:not([hidden])').waitFor();
  await readers.first().waitFor();
  const listed = async () =>
    readers.evaluateAll((items) => items.map((li) => [li.querySelector('.name').firstChild.textContent, li.dataset.state]));
  assert.deepEqual(await listed(), [
    ['bob', 'read'],
    ['carol', 'delivered'],
  ]);
  await screenshot(alice.page, 'receipts-group');

  // carol reads it too: read by everyone, and the open list follows.
  await openChannel(carol.page, group);
  await readBy.filter({ hasText: 'read by 2 of 2' }).waitFor();
  await waitForReceipt(alice.page, 'Who is in on Friday?', 'read');
  await readers.filter({ hasText: 'carol' }).and(alice.page.locator('[data-state=read]')).waitFor();
  await alice.page.click('#readers-close');
  await alice.page.locator('#readers-panel').waitFor({ state: 'hidden' });
});

test("bob's read on one device clears the unread badge on his other one", async () => {
  // Another browser (its own storage): bob logs in there as a new device.
  bob2 = await newPerson(browser, node);
  bob2.frames = recordFrames(bob2.page);
  const page = bob2.page;
  await logIn(page, 'bob');
  await chatItem(page, direct).waitFor();

  // bob's first device has the group open; the second, no chat.
  await openChannel(bob.page, group);
  await openChannel(alice.page, direct);
  await send(alice.page, 'Are you still coming?');
  await badge(bob.page, direct).filter({ hasText: '1' }).waitFor();
  await badge(page, direct).filter({ hasText: '1' }).waitFor();
  await waitForReceipt(alice.page, 'Are you still coming?', 'delivered');

  // He reads it on the first: the second learns his read position and drops the badge.
  await openChannel(bob.page, direct);
  await waitForReceipt(alice.page, 'Are you still coming?', 'read');
  await badge(page, direct).waitFor({ state: 'detached' });
  const bobId = await userId(bob.page);
  assert.ok(
    receiptsTold(bob2).some((r) => r.channel === direct && r.user === bobId),
    'the second device got a receipt with bob’s own user id',
  );
  assert.deepEqual(markReads(bob2, direct), [], 'the second device did not mark anything read');
  assert.equal(await page.locator('#unread-total').isVisible(), false);
});

test('read receipts off: bob’s reads are not shown, and he sees no one’s', async () => {
  // bob turns them off on his first device; the second follows.
  await bob.page.click('#settings-toggle');
  await bob.page.uncheck('#read-receipts');
  await waitUntil('the node to take the setting', () =>
    bob.frames.received.some((f) => f.settings && f.settings.request !== '0' && f.settings.readReceipts === false),
  );
  await bob.page.click('#settings-toggle');
  await waitUntil('the second device to be told', () =>
    bob2.frames.received.some((f) => f.settings?.request === '0' && f.settings.readReceipts === false),
  );
  await bob2.page.click('#settings-toggle');
  await bob2.page.locator('#read-receipts:not(:checked):enabled').waitFor();

  // alice writes while bob looks at the group: delivered.
  await openChannel(bob.page, group);
  await send(alice.page, 'Table for two at 8');
  await waitForReceipt(alice.page, 'Table for two at 8', 'delivered');
  const seq = await seqOf(alice.page, 'Table for two at 8');

  // bob reads it: his read position moves (the node answers his markRead), but alice is
  // never told, and asking shows her nothing read.
  const marked = markReads(bob, direct).length;
  await openChannel(bob.page, direct);
  await waitForMessages(bob.page, ['Table for two at 8']);
  const mark = await waitUntil('bob to mark it read', () =>
    markReads(bob, direct).slice(marked).find((m) => m.seq === seq),
  );
  await waitUntil("the node's answer to bob's markRead", () =>
    bob.frames.received.some((f) => f.ok?.request === mark.request),
  );
  const from = alice.frames.received.length;
  await openChannel(alice.page, direct); // opening a chat asks for its receipts
  const answer = await nextReceipts(alice, direct, from);
  const bobId = await userId(bob.page);
  assert.equal(answer.entries.find((e) => e.user === bobId).readSeq, '0');
  assert.equal(await receiptState(alice.page, 'Table for two at 8'), 'delivered');
  assert.ok(
    !receiptsTold(alice).some((r) => r.user === bobId && BigInt(r.readSeq) >= BigInt(seq)),
    'no receipt told alice that bob read it',
  );

  // And bob sees no one's: alice reads his message, and it stays delivered for him.
  await send(bob.page, 'Great, see you there');
  await waitForMessages(alice.page, ['Great, see you there']);
  const bobsSeq = await seqOf(bob.page, 'Great, see you there');
  const aliceMark = await waitUntil('alice to mark it read', () =>
    markReads(alice, direct).find((m) => BigInt(m.seq) >= BigInt(bobsSeq)),
  );
  await waitUntil("the node's answer to alice's markRead", () =>
    alice.frames.received.some((f) => f.ok?.request === aliceMark.request),
  );
  const bobFrom = bob.frames.received.length;
  await openChannel(bob.page, direct);
  const bobsAnswer = await nextReceipts(bob, direct, bobFrom);
  assert.equal(bobsAnswer.entries.find((e) => e.user !== bobId).readSeq, '0');
  await waitForReceipt(bob.page, 'Great, see you there', 'delivered');

  // On again: asking anew shows bob alice's read.
  await bob.page.click('#settings-toggle');
  await bob.page.check('#read-receipts');
  await waitForReceipt(bob.page, 'Great, see you there', 'read');
  for (const person of [alice, bob, bob2]) assert.equal(await person.page.locator('#toast').isVisible(), false);
});
