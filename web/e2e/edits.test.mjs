// Editing and deleting for everyone in a real browser against a real node (docs/protocol.md,
// "Editing and deleting"; docs/web.md, "Editing and deleting"): alice edits her message and
// bob, her other device, bob after a reload and a new device of bob's all show the new
// text marked "edited"; she deletes one and every page shows a tombstone, with the text gone
// from bob's page; only the sender (and in a group the admin, for deleting) is offered Edit
// and Delete (anyone, Reply); an empty edit is not sent, and an edit the node refuses says why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  actionsOn,
  badge,
  bubble,
  chatItem,
  chooseAction,
  createGroup,
  delivered,
  goOffline,
  logIn,
  newPerson,
  noToast,
  openChannel,
  openChat,
  openContact,
  openMenu,
  recordFrames,
  screenshot,
  send,
  sentFrames,
  seqOf,
  startFriends,
  storedText,
  tearDown,
  waitForMessages,
  waitUntil,
} from './harness.mjs';

const TOMBSTONE = 'This message was deleted';

let node;
let browser;
let alice;
let bob;
let carol;
let alice2; // a second device of alice's (another browser)
let bob2; // a second device of bob's (another browser)
let direct; // alice and bob's 1:1 channel
let group; // alice's group with bob and carol

const preview = (page, channel) => chatItem(page, channel).locator('[data-testid=chat-preview]').textContent();

// What message `seq` of the open chat shows: its text and whether it is marked edited/deleted.
const describe = (page, seq) =>
  page.evaluate((s) => {
    const li = document.querySelector(`#message-list [data-testid=message][data-seq="${s}"]`);
    if (!li) return 'nothing';
    return JSON.stringify({ text: li.querySelector('.text').textContent, ...li.dataset });
  }, seq);

// Waits until message `seq` of the open chat shows `text`, edited or deleted as said.
async function waitForBubble(page, seq, { text, edited = false, deleted = false }, timeout = 10_000) {
  try {
    await page.waitForFunction(
      ([s, t, e, d]) => {
        const li = document.querySelector(`#message-list [data-testid=message][data-seq="${s}"]`);
        return (
          li !== null &&
          li.querySelector('.text').textContent === t &&
          (li.dataset.edited === 'true') === e &&
          (li.dataset.deleted === 'true') === d
        );
      },
      [seq, text, edited, deleted],
      { timeout },
    );
  } catch {
    throw new Error(
      `expected message ${seq} to show ${JSON.stringify({ text, edited, deleted })}, it shows ${await describe(page, seq)}`,
    );
  }
}

// Edit → the text in the composer under the edit bar; `text` replaces it (not saved yet).
async function startEdit(page, seq, text) {
  await chooseAction(page, seq, 'edit-message');
  await page.fill('#composer-text', text);
}

async function editMessage(page, seq, text) {
  await startEdit(page, seq, text);
  await page.press('#composer-text', 'Enter');
  await page.locator('[data-testid=edit-bar]').waitFor({ state: 'hidden' });
}

// Delete for everyone → the in-page dialog → confirm.
async function deleteMessage(page, seq, shot = null) {
  await chooseAction(page, seq, 'delete-message');
  if (shot) await screenshot(page, shot);
  await page.click('[data-testid=confirm-delete]');
  await page.locator('[data-testid=confirm-dialog]:not([open])').waitFor({ state: 'attached' });
}

// The node's answer to `person`'s request `frame` (editMessage or deleteMessage) for `seq`.
async function answerTo(person, frame, seq) {
  const request = await waitUntil(`${frame} for ${seq} to go out`, () =>
    sentFrames(person, frame).findLast((f) => f.seq === seq),
  );
  return waitUntil(`the answer to ${frame} ${request.request}`, () =>
    person.frames.received.find((f) => f.ok?.request === request.request || f.failure?.request === request.request),
  );
}

before(async () => {
  ({
    node,
    browser,
    people: { alice, bob, carol },
  } = await startFriends(['alice', 'bob', 'carol']));
});

after(() => tearDown(browser, node));

test('alice edits her message: bob and her other device show the new text, marked edited', async () => {
  await openContact(alice.page, 'bob');
  await send(alice.page, 'Meet at 10?');
  await send(alice.page, 'Bring the rope');
  await waitForMessages(alice.page, ['Meet at 10?', 'Bring the rope']);
  direct = alice.frames.received.find((f) => f.sendAck)?.sendAck.channel;
  assert.ok(direct, 'alice got a sendAck');
  await openContact(bob.page, 'alice');
  await waitForMessages(bob.page, ['Meet at 10?', 'Bring the rope']);
  const first = await seqOf(alice.page, 'Meet at 10?');

  // Another browser of alice's is another device, with the same chat open. (Not a second
  // tab of hers: a tab in the background gets its animation frames throttled, which slows
  // every click in it.)
  alice2 = await newPerson(browser, node);
  alice2.frames = recordFrames(alice2.page);
  await logIn(alice2.page, 'alice');
  await openChat(alice2.page, 'bob');
  await waitForMessages(alice2.page, ['Meet at 10?', 'Bring the rope']);

  // Only the sender is offered Edit and Delete: bob may only reply to alice's messages.
  assert.deepEqual(await actionsOn(bob.page, first), ['reply']);
  assert.deepEqual(await actionsOn(alice.page, first), ['reply', 'edit', 'delete']);

  // The menu works from the keyboard: Enter opens it on Reply, Down moves, Esc closes it.
  const toggle = bubble(alice.page, first).locator('[data-testid=message-actions]');
  await toggle.focus();
  await alice.page.keyboard.press('Enter');
  await alice.page.locator('[data-testid=reply-message]:focus').waitFor();
  await alice.page.keyboard.press('ArrowDown');
  await alice.page.locator('[data-testid=edit-message]:focus').waitFor();
  await alice.page.keyboard.press('ArrowDown');
  await alice.page.locator('[data-testid=delete-message]:focus').waitFor();
  await alice.page.keyboard.press('Escape');
  await bubble(alice.page, first).locator('[data-testid=actions-menu]').waitFor({ state: 'detached' });
  assert.equal(await toggle.evaluate((b) => b === document.activeElement), true, 'the focus is back on ⋯');

  // Edit puts the text in the composer under the edit bar; typing there sends no typing frame.
  const typingBefore = sentFrames(alice, 'typing').length;
  await chooseAction(alice.page, first, 'edit-message');
  assert.equal(await alice.page.inputValue('#composer-text'), 'Meet at 10?');
  assert.match(await alice.page.locator('[data-testid=edit-bar]').textContent(), /Editing message — Esc to cancel/);
  await alice.page.press('#composer-text', 'ArrowLeft');
  await alice.page.locator('#composer-text').pressSequentially(':30', { delay: 20 });
  assert.equal(await alice.page.inputValue('#composer-text'), 'Meet at 10:30?');
  await screenshot(alice.page, 'edits-editing');
  await alice.page.press('#composer-text', 'Enter');
  await alice.page.locator('[data-testid=edit-bar]').waitFor({ state: 'hidden' });
  assert.equal(await alice.page.inputValue('#composer-text'), '', 'the composer is back to what it held');
  // The page's frames reach the test a little after the page shows the edit sent.
  await waitUntil('the edit to go out', () => sentFrames(alice, 'editMessage').length > 0);
  assert.equal(sentFrames(alice, 'typing').length, typingBefore, 'no typing frame for an edit');
  assert.deepEqual(sentFrames(alice, 'editMessage').map(({ channel, seq, text }) => ({ channel, seq, text })), [
    { channel: direct, seq: first, text: 'Meet at 10:30?' },
  ]);
  assert.ok((await answerTo(alice, 'editMessage', first)).ok, 'the node took the edit');

  // Everyone shows the new text, marked edited, in place: no bubble of its own.
  for (const page of [alice.page, alice2.page, bob.page]) {
    await waitForBubble(page, first, { text: 'Meet at 10:30?', edited: true });
    await bubble(page, first).locator('[data-testid=edited]', { hasText: 'edited' }).waitFor();
    assert.deepEqual(await waitForMessages(page, ['Meet at 10:30?', 'Bring the rope']), [
      'Meet at 10:30?',
      'Bring the rope',
    ]);
  }
  const edit = delivered(bob).find((m) => m.kind === 'edited' && m.target === first);
  assert.ok(edit, 'bob received an edited entry');
  assert.equal(edit.text, 'Meet at 10:30?');
  // An edit is nothing to read: bob, looking at the chat, marks nothing read for it.
  await sleep(300);
  const marked = sentFrames(bob, 'markRead').filter((m) => m.channel === direct && BigInt(m.seq) >= BigInt(edit.seq));
  assert.deepEqual(marked, [], 'no markRead for an edit');
  await noToast(alice, bob, alice2);
});

test('a device that was away, a reload and a new device all show the edited text', async () => {
  const second = await seqOf(alice.page, 'Bring the rope');
  // bob is offline while alice edits twice: his page catches up on reconnect (a replay, not
  // live), where the first edit comes superseded (no text, editedSeq pointing at the second).
  await goOffline(bob, node);
  await editMessage(alice.page, second, 'Bring the rope and quickdraws');
  assert.ok((await answerTo(alice, 'editMessage', second)).ok);
  await waitForBubble(alice.page, second, { text: 'Bring the rope and quickdraws', edited: true });
  await editMessage(alice.page, second, 'Bring the rope and the quickdraws');
  assert.ok((await answerTo(alice, 'editMessage', second)).ok);
  await bob.context.setOffline(false);
  await waitForBubble(bob.page, second, { text: 'Bring the rope and the quickdraws', edited: true });
  const [older, newer] = delivered(bob).filter((m) => m.kind === 'edited' && m.target === second);
  assert.ok(older && newer, 'bob received both edits');
  assert.deepEqual([older.text, older.editedSeq], ['', newer.seq], 'the first edit arrives superseded');
  assert.deepEqual([newer.text, newer.editedSeq], ['Bring the rope and the quickdraws', '0']);
  // The chat list's preview shows the newest message as it reads now.
  assert.equal(await preview(bob.page, direct), 'Bring the rope and the quickdraws');

  // A reload keeps the device and reads the chat back from history: the edited texts only.
  await bob.page.reload();
  await bob.page.locator('[data-testid=status][data-state=online]').waitFor();
  await openChannel(bob.page, direct);
  const now = ['Meet at 10:30?', 'Bring the rope and the quickdraws'];
  await waitForMessages(bob.page, now);
  await waitForBubble(bob.page, second, { text: now[1], edited: true });
  assert.equal(await bob.page.locator('[data-testid=message][data-edited=true]').count(), 2);

  // A new device of bob's starts at the inbox head and pages history: the same.
  bob2 = await newPerson(browser, node);
  bob2.frames = recordFrames(bob2.page);
  await logIn(bob2.page, 'bob');
  await chatItem(bob2.page, direct).waitFor();
  await openChannel(bob2.page, direct);
  await waitForMessages(bob2.page, now);
  await waitForBubble(bob2.page, second, { text: now[1], edited: true });
  assert.equal(await preview(bob2.page, direct), now[1]);
  for (const page of [bob.page, bob2.page]) {
    const text = await page.locator('#message-list').textContent();
    assert.ok(!text.includes('Meet at 10?'), 'the old text is not shown');
  }
  await noToast(alice, bob, bob2);
});

test('alice deletes for everyone: a tombstone everywhere, and the text is gone from bob’s page', async () => {
  await send(alice.page, 'My door code is 4321');
  await waitForMessages(bob.page, ['My door code is 4321']);
  await waitForMessages(bob2.page, ['My door code is 4321']);
  await waitForMessages(alice2.page, ['My door code is 4321']);
  const seq = await seqOf(alice.page, 'My door code is 4321');

  await deleteMessage(alice.page, seq, 'edits-confirm');
  assert.ok((await answerTo(alice, 'deleteMessage', seq)).ok, 'the node took the delete');
  for (const page of [alice.page, alice2.page, bob.page, bob2.page]) {
    await waitForBubble(page, seq, { text: TOMBSTONE, deleted: true });
    // A tombstone has no ticks and no actions (not even Reply).
    assert.equal(await bubble(page, seq).locator('[data-testid=message-actions]').count(), 0);
    assert.equal(await bubble(page, seq).locator('[data-testid=receipt]').count(), 0);
  }
  const deletion = delivered(bob).find((m) => m.kind === 'deleted' && m.target === seq);
  assert.ok(deletion, 'bob received a deleted entry');
  assert.equal(await preview(bob.page, direct), 'message deleted');
  // Nowhere in bob's pages: not the DOM, not the browser's storage (the outbox included).
  for (const page of [bob.page, bob2.page, alice.page, alice2.page]) {
    assert.ok(!(await page.content()).includes('4321'), 'the deleted text is not in the page');
    assert.ok(!(await storedText(page)).includes('4321'), 'the deleted text is not stored in the browser');
  }
  await waitForMessages(bob.page, ['Meet at 10:30?', 'Bring the rope and the quickdraws', TOMBSTONE]);

  // The chat goes on. alice's page: two edited messages, the tombstone, and the ⋯ menu of
  // her newest message.
  await send(alice.page, 'Sorry, wrong chat!');
  await waitForMessages(bob.page, [TOMBSTONE, 'Sorry, wrong chat!']);
  await send(bob.page, 'No worries!');
  await waitForMessages(alice.page, [TOMBSTONE, 'Sorry, wrong chat!', 'No worries!']);
  await openMenu(alice.page, await seqOf(alice.page, 'Sorry, wrong chat!'));
  await screenshot(alice.page, 'edits');
  await alice.page.keyboard.press('Escape');
  await noToast(alice, bob, alice2, bob2);
});

test('in a group, the admin deletes anyone’s message; the others only their own', async () => {
  group = await createGroup(alice.page, 'Crag crew', ['bob', 'carol']);
  assert.equal(group, alice.frames.received.findLast((f) => f.groupCreated)?.groupCreated.channel);

  // bob writes; carol has no chat open, so it is unread for her.
  await chatItem(bob.page, group).waitFor();
  await openChannel(bob.page, group);
  await send(bob.page, 'Anyone has a spare harness?');
  await waitForMessages(alice.page, ['Anyone has a spare harness?']);
  const seq = await seqOf(bob.page, 'Anyone has a spare harness?');
  await badge(carol.page, group).filter({ hasText: '1' }).waitFor();

  // bob may edit and delete his own; alice, the admin, may delete it but not edit it.
  assert.deepEqual(await actionsOn(bob.page, seq), ['reply', 'edit', 'delete']);
  assert.deepEqual(await actionsOn(alice.page, seq), ['reply', 'delete']);

  // bob edits it: carol's list shows the new text, and the edit is not one more unread.
  await editMessage(bob.page, seq, 'Anyone has a spare harness? Size M');
  await waitForBubble(alice.page, seq, { text: 'Anyone has a spare harness? Size M', edited: true });
  await waitUntil('carol to receive the edit', () => delivered(carol).some((m) => m.kind === 'edited'));
  await carol.page.waitForFunction(
    (id) =>
      document.querySelector(`[data-testid=chat-item][data-channel="${id}"] [data-testid=chat-preview]`)?.textContent ===
      'Anyone has a spare harness? Size M',
    group,
  );
  assert.equal(await badge(carol.page, group).textContent(), '1');

  // alice deletes bob's message: the dialog says she does so as the admin.
  await chooseAction(alice.page, seq, 'delete-message');
  assert.match(await alice.page.locator('#confirm-text').textContent(), /admin/);
  await alice.page.click('[data-testid=confirm-delete]');
  assert.ok((await answerTo(alice, 'deleteMessage', seq)).ok, 'the node took the admin’s delete');
  await waitForBubble(alice.page, seq, { text: TOMBSTONE, deleted: true });
  await waitForBubble(bob.page, seq, { text: TOMBSTONE, deleted: true });
  await waitUntil('carol to receive the delete', () => delivered(carol).some((m) => m.kind === 'deleted'));
  await carol.page.waitForFunction(
    (id) =>
      document.querySelector(`[data-testid=chat-item][data-channel="${id}"] [data-testid=chat-preview]`)?.textContent ===
      'message deleted',
    group,
  );
  assert.equal(await badge(carol.page, group).textContent(), '1', 'an edit or a delete is not unread');

  // carol opens the group: the tombstone, and nothing of the text.
  await openChannel(carol.page, group);
  await waitForBubble(carol.page, seq, { text: TOMBSTONE, deleted: true });
  assert.ok(!(await carol.page.content()).includes('spare harness'));

  // carol writes: the admin may delete it, bob (not the admin) may only reply to it.
  await send(carol.page, 'I have one');
  await waitForMessages(alice.page, [TOMBSTONE, 'I have one']);
  await waitForMessages(bob.page, [TOMBSTONE, 'I have one']);
  const hers = await seqOf(alice.page, 'I have one');
  assert.deepEqual(await actionsOn(alice.page, hers), ['reply', 'delete']);
  assert.deepEqual(await actionsOn(bob.page, hers), ['reply']);
  assert.deepEqual(await actionsOn(carol.page, hers), ['reply', 'edit', 'delete']);
  await noToast(alice, bob, carol);
});

test('an empty edit is not sent, and an edit the node refuses says why', async () => {
  await openChannel(alice.page, direct);
  await send(alice.page, 'See you at the crag');
  await waitForMessages(alice.page, ['See you at the crag']);
  const seq = await seqOf(alice.page, 'See you at the crag');

  // Emptied: not sent, a hint instead; Esc gives the composer back.
  const edits = sentFrames(alice, 'editMessage').length;
  await alice.page.fill('#composer-text', 'a draft');
  await startEdit(alice.page, seq, '   ');
  await alice.page.press('#composer-text', 'Enter');
  await alice.page.locator('#toast', { hasText: 'cannot be empty' }).waitFor();
  assert.equal(sentFrames(alice, 'editMessage').length, edits, 'no editMessage for an empty text');
  await alice.page.press('#composer-text', 'Escape');
  await alice.page.locator('[data-testid=edit-bar]').waitFor({ state: 'hidden' });
  assert.equal(await alice.page.inputValue('#composer-text'), 'a draft', 'the draft is back');
  await alice.page.fill('#composer-text', '');

  // alice's second device does not hear of the delete in time: it edits a deleted message.
  // Its WebSocket runs through a proxy that holds back deliveries while `holding`.
  let holding = false;
  const held = [];
  const edits2 = []; // alice2's editMessage frames
  const answers = []; // the failures the node sends alice2
  let toPage = null;
  await alice2.page.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    toPage = (frame) => ws.send(frame);
    ws.onMessage((frame) => {
      if (String(frame).startsWith('{"editMessage"')) edits2.push(JSON.parse(String(frame)).editMessage);
      server.send(frame);
    });
    server.onMessage((frame) => {
      const text = String(frame);
      if (text.startsWith('{"failure"')) answers.push(JSON.parse(text).failure);
      if (holding && text.startsWith('{"deliver"')) held.push(frame);
      else ws.send(frame);
    });
  });
  await alice2.page.reload(); // the same device, now through the proxy
  await alice2.page.locator('[data-testid=status][data-state=online]').waitFor();
  await openChannel(alice2.page, direct);
  await waitForBubble(alice2.page, seq, { text: 'See you at the crag' });

  holding = true;
  await startEdit(alice2.page, seq, 'See you at the crag at 9');
  await deleteMessage(alice.page, seq);
  await waitForBubble(alice.page, seq, { text: TOMBSTONE, deleted: true });
  await waitUntil('the delete to reach the proxy', () => held.length > 0);
  await alice2.page.press('#composer-text', 'Enter');
  const sent = await waitUntil('alice2 to send the edit', () => edits2.find((f) => f.seq === seq));
  assert.equal(sent.text, 'See you at the crag at 9');
  const refusal = await waitUntil('the node to refuse the edit', () => answers.find((f) => f.request === sent.request));
  assert.equal(refusal.code, 'message_deleted');
  await alice2.page.locator('#toast', { hasText: 'Not edited: That message was deleted.' }).waitFor();
  await alice2.page.locator('[data-testid=edit-bar]').waitFor({ state: 'hidden' });

  // The delete arrives after all: the tombstone.
  holding = false;
  for (const frame of held.splice(0)) toPage(frame);
  await waitForBubble(alice2.page, seq, { text: TOMBSTONE, deleted: true });
  assert.ok(!(await alice2.page.content()).includes('crag at 9'));
  assert.equal(await alice2.page.inputValue('#composer-text'), '');
});
