// Receipts coalesced per commit, in a real browser (docs/protocol.md, "Receipts"): the node
// here holds its commits 600 ms apart, so bob's and carol's acks of alice's group message
// share one commit and reach alice as one `receipts` frame with request "0" listing both.
// Her page applies each entry as a `receipt`: the message shows ✓✓ (delivered to everyone).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGroup, send, startFriends, tearDown, userId, waitUntil } from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;

before(async () => {
  ({
    node,
    browser,
    people: { alice, bob, carol },
  } = await startFriends(['alice', 'bob', 'carol'], ['--commit-interval-us', '600000']));
});

after(() => tearDown(browser, node));

test('two acks in one commit: one receipts frame, and the message shows delivered', async () => {
  const group = await createGroup(alice.page, 'Book club', ['bob', 'carol']);
  await send(alice.page, 'Chapter three by Sunday?');
  const told = await waitUntil('a coalesced receipts frame for the group', () =>
    alice.frames.received.find((f) => f.receipts?.request === '0' && f.receipts.channel === group)?.receipts,
  );
  const ids = [await userId(bob.page), await userId(carol.page)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  assert.deepEqual(
    told.entries.map((e) => e.user),
    ids,
    'both acks, in ascending user id',
  );
  const singles = alice.frames.received.filter((f) => f.receipt?.channel === group);
  assert.equal(singles.length, 0, 'no receipt frame of its own for either ack');
  await alice.page
    .locator('li.mine', { hasText: 'Chapter three by Sunday?' })
    .locator('[data-testid=receipt][data-state="delivered"]')
    .waitFor({ timeout: 10_000 });
});
