// Searching messages in a real browser against a real node (docs/protocol.md, "Search";
// docs/web.md, "Search"): the box above the chat list finds a word of another person's
// message, highlighted in a <mark>, and opening the result loads the chat's history back to
// the message, scrolls to it and highlights it; the last word is a prefix, typing asks once
// after a pause, and an empty box or Esc shows the chat list again; a message holding HTML
// is found and shown as text; a member removed from a group finds what was posted before the
// removal and not after; a message deleted for everyone drops out of the results on screen
// and is not found again; "More results" asks the next page; an answer to an older query is
// ignored, and a refusal says so with Try again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bubble,
  chooseAction,
  confirmAsk,
  createGroup,
  logIn,
  newPerson,
  openChannel,
  openContact,
  screenshot,
  send,
  sentFrames,
  seqOf,
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

before(async () => {
  ({ node, browser, people: { alice, bob, carol } } = await startFriends(['alice', 'bob', 'carol']));
  for (const person of [alice, bob, carol]) {
    person.page.on('dialog', (dialog) => {
      throw new Error(`a dialog opened: ${dialog.message()}`);
    });
  }
});

after(() => tearDown(browser, node));

const searchBox = (page) => page.locator('[data-testid=search-input]');
const hits = (page) => page.locator('[data-testid=search-hit]');
const hitFrom = (page, sender) =>
  page.locator('[data-testid=search-hit]', { has: page.locator('[data-testid=search-sender]', { hasText: sender }) });
const searchStatus = (page) => page.locator('[data-testid=search-status]');

// Types `query` into the search box and waits until the results for it are shown.
async function searchFor(page, query) {
  await searchBox(page).fill(query);
  await page.locator(`[data-testid=search-view][data-state=done][data-query="${query}"]`).waitFor();
}

// Esc in the box: the results go and the chat list is back.
async function closeSearch(page) {
  await searchBox(page).press('Escape');
  await page.locator('[data-testid=search-view]').waitFor({ state: 'hidden' });
  await page.locator('#sidebar-main').waitFor();
}

// The texts of the <mark> elements in the results, in order.
const marks = (page) => page.locator('[data-testid=search-results] mark').allTextContents();

// Waits until message `seq` of the open chat is highlighted and lies within the message pane.
async function waitHighlightedInView(page, seq) {
  await bubble(page, seq).and(page.locator('[data-highlighted=true]')).waitFor();
  await page.waitForFunction((s) => {
    const li = document.querySelector(`#message-list [data-testid=message][data-seq="${s}"]`);
    if (!li) return false;
    const pane = document.getElementById('messages').getBoundingClientRect();
    const box = li.getBoundingClientRect();
    return box.top >= pane.top - 1 && box.bottom <= pane.bottom + 1;
  }, seq);
}

test('a word of the other person’s message is found, highlighted, and opening it shows the message in its chat', async () => {
  await openContact(alice.page, 'bob');
  await send(alice.page, 'hi bob');
  await waitForMessages(alice.page, ['hi bob']);
  await openContact(bob.page, 'alice');
  await send(bob.page, 'shall we have lunch tomorrow?');
  // Forty more after it: the message is far older than the newest page of history (30).
  for (let i = 1; i <= 40; i++) await send(bob.page, `pebble ${i}`);
  await waitForMessages(alice.page, ['pebble 39', 'pebble 40']);
  const lunchSeq = await seqOf(bob.page, 'shall we have lunch');

  // After a reload alice holds only the chat list's previews: nothing near the message.
  await alice.page.reload();
  await alice.page.waitForSelector('[data-testid=status][data-state=online]');
  await alice.page.locator('[data-testid=chat-item]', { hasText: 'bob' }).waitFor();
  assert.equal(await searchBox(alice.page).getAttribute('placeholder'), 'Search messages');

  await searchFor(alice.page, 'lunch');
  assert.equal(await hits(alice.page).count(), 1);
  const hit = hits(alice.page).first();
  assert.equal(await hit.getAttribute('data-seq'), lunchSeq);
  await hit.locator('[data-testid=search-chat]', { hasText: 'bob' }).waitFor(); // the chat's name
  assert.equal(await hit.locator('[data-testid=search-sender]').textContent(), 'bob');
  assert.match(await hit.locator('[data-testid=search-snippet]').textContent(), /^bob: shall we have lunch tomorrow\?$/);
  assert.deepEqual(await marks(alice.page), ['lunch']);
  assert.notEqual((await hit.locator('[data-testid=search-time]').textContent()).trim(), '', 'a time is shown');
  // The chat list is replaced while the results are up.
  assert.equal(await alice.page.locator('[data-testid=chats]').isVisible(), false);
  const asked = sentFrames(alice, 'search').at(-1);
  assert.deepEqual([asked.query, asked.offset, asked.limit], ['lunch', 0, 20]);
  assert.match(asked.request, /^[1-9][0-9]*$/);

  await hit.click();
  await alice.page.locator('#chat-view:not([hidden]) #chat-title', { hasText: 'bob' }).waitFor();
  await waitHighlightedInView(alice.page, lunchSeq);
  assert.equal(await bubble(alice.page, lunchSeq).locator('.text').textContent(), 'shall we have lunch tomorrow?');
  // The results stay, the one opened marked.
  assert.equal(await hit.getAttribute('class').then((c) => c.includes('selected')), true);
  await send(alice.page, 'lunch sounds good, see you at noon');
  await waitForMessages(alice.page, ['lunch sounds good, see you at noon']);
  await closeSearch(alice.page);

  // carol is in no chat that holds it.
  await searchFor(carol.page, 'lunch');
  assert.equal(await hits(carol.page).count(), 0);
  assert.equal(await searchStatus(carol.page).textContent(), 'No messages found');
  await closeSearch(carol.page);
});

test('the last word is a prefix, typing asks once after a pause, and an empty box shows the chat list', async () => {
  await openContact(carol.page, 'alice');
  await send(carol.page, 'I left my lunchbox at the gym');
  await waitForMessages(carol.page, ['I left my lunchbox at the gym']);

  const before = sentFrames(alice, 'search').length;
  await searchBox(alice.page).pressSequentially('lun', { delay: 40 });
  await alice.page.locator('[data-testid=search-view][data-state=done][data-query="lun"]').waitFor();
  assert.deepEqual(
    sentFrames(alice, 'search').slice(before).map((f) => f.query),
    ['lun'],
    'one search, for the whole word typed',
  );
  assert.equal(await hits(alice.page).count(), 3);
  assert.deepEqual((await marks(alice.page)).sort(), ['lunch', 'lunch', 'lunchbox']);
  await hitFrom(alice.page, 'carol').locator('[data-testid=search-chat]', { hasText: 'carol' }).waitFor();
  await hitFrom(alice.page, 'You').locator('[data-testid=search-chat]', { hasText: 'bob' }).waitFor();

  // Opening carol's: her chat, at the message.
  await hitFrom(alice.page, 'carol').click();
  await alice.page.locator('#chat-view:not([hidden]) #chat-title', { hasText: 'carol' }).waitFor();
  await waitHighlightedInView(alice.page, await hitFrom(alice.page, 'carol').getAttribute('data-seq'));
  await screenshot(alice.page, 'search');

  // Only spaces: the chat list, and nothing asked.
  const asked = sentFrames(alice, 'search').length;
  await searchBox(alice.page).fill('   ');
  await alice.page.locator('[data-testid=search-view]').waitFor({ state: 'hidden' });
  await alice.page.locator('[data-testid=chats]').waitFor();
  await sleep(500);
  assert.equal(sentFrames(alice, 'search').length, asked, 'a blank box asks nothing');

  // × closes the results too, and empties the box.
  await searchFor(alice.page, 'lunchbox');
  assert.equal(await hits(alice.page).count(), 1);
  await alice.page.click('[data-testid=search-clear]');
  await alice.page.locator('[data-testid=search-view]').waitFor({ state: 'hidden' });
  assert.equal(await searchBox(alice.page).inputValue(), '');
  await alice.page.locator('[data-testid=chats]').waitFor();
});

test('a message holding HTML is found and shown as text', async () => {
  const hostile = '<b>bold</b> <img src=x onerror=alert(1)> findme';
  await openContact(bob.page, 'alice');
  await send(bob.page, hostile);
  await waitForMessages(bob.page, [hostile]);

  await searchFor(alice.page, 'findme');
  assert.equal(await hits(alice.page).count(), 1);
  const snippet = await hits(alice.page).first().locator('[data-testid=search-snippet]').textContent();
  assert.ok(snippet.includes('<img src=x onerror=alert(1)>'), snippet);
  assert.ok(snippet.includes('<b>bold</b>'), snippet);
  assert.deepEqual(await marks(alice.page), ['findme']);
  const results = alice.page.locator('[data-testid=search-results]');
  assert.equal(await results.locator('img').count(), 0, 'no <img> element');
  assert.equal(await results.locator('b').count(), 0, 'no <b> element');
  await closeSearch(alice.page);
});

test('a member removed from a group finds what was posted before the removal, not after', async () => {
  const crag = await createGroup(alice.page, 'Crag', ['bob', 'carol']);
  await send(alice.page, 'apricot early');
  await waitForMessages(alice.page, ['apricot early']);
  await openChannel(carol.page, crag);
  await waitForMessages(carol.page, ['apricot early']);

  await alice.page.click('#members-toggle');
  await alice.page.locator('[data-testid=member]', { hasText: 'carol' }).locator('button', { hasText: 'Remove' }).click();
  await confirmAsk(alice.page);
  await carol.page.locator('#chat-subtitle', { hasText: 'alice removed you' }).waitFor();
  await send(alice.page, 'apricot late');
  await waitForMessages(alice.page, ['apricot late']);

  await searchFor(carol.page, 'apricot');
  assert.equal(await hits(carol.page).count(), 1);
  const snippet = await hits(carol.page).first().locator('[data-testid=search-snippet]').textContent();
  assert.equal(snippet, 'alice: apricot early');
  await hits(carol.page).first().locator('[data-testid=search-chat]', { hasText: 'Crag' }).waitFor();
  await closeSearch(carol.page);

  // bob, still a member, finds both.
  await searchFor(bob.page, 'apricot');
  assert.deepEqual(
    (await bob.page.locator('[data-testid=search-snippet]').allTextContents()).sort(),
    ['alice: apricot early', 'alice: apricot late'],
  );
  await closeSearch(bob.page);
});

test('a message deleted for everyone drops out of the results on screen and is not found again', async () => {
  await openContact(bob.page, 'alice');
  await send(bob.page, 'the ephemeral walrus');
  await waitForMessages(bob.page, ['the ephemeral walrus']);
  const seq = await seqOf(bob.page, 'the ephemeral walrus');

  await searchFor(alice.page, 'walrus');
  assert.equal(await hits(alice.page).count(), 1);
  const asked = sentFrames(alice, 'search').length;

  await chooseAction(bob.page, seq, 'delete-message');
  await bob.page.click('[data-testid=confirm-delete]');
  await bubble(bob.page, seq).and(bob.page.locator('[data-deleted=true]')).waitFor();

  // The delete reaches alice's page: the hit goes from the results she has up.
  await hits(alice.page).first().waitFor({ state: 'detached' });
  await searchStatus(alice.page).filter({ hasText: 'No messages found' }).waitFor();
  assert.equal(sentFrames(alice, 'search').length, asked, 'the hit went without asking again');

  // Asked again, the node finds nothing.
  await closeSearch(alice.page);
  await searchFor(alice.page, 'walrus');
  assert.equal(await hits(alice.page).count(), 0);
  assert.equal(await searchStatus(alice.page).textContent(), 'No messages found');
  await closeSearch(alice.page);
});

test('More results asks the next page with the offset of the hits received, and appends it', async () => {
  await searchFor(alice.page, 'pebble');
  assert.equal(await hits(alice.page).count(), 20);
  const more = alice.page.locator('[data-testid=search-more]');
  assert.equal(await more.textContent(), 'More results');
  await more.click();
  await alice.page.waitForFunction(() => document.querySelectorAll('[data-testid=search-hit]').length === 40);
  await alice.page.locator('[data-testid=search-view][data-state=done]').waitFor();
  assert.equal(await more.isVisible(), false, 'all 40 are shown');
  const pages = sentFrames(alice, 'search').slice(-2);
  assert.deepEqual(pages.map((f) => [f.query, f.offset, f.limit]), [['pebble', 0, 20], ['pebble', 20, 20]]);
  const seqs = await hits(alice.page).evaluateAll((all) => all.map((li) => li.dataset.seq));
  assert.equal(new Set(seqs).size, 40, 'each message once');
  await closeSearch(alice.page);
});

test('an answer to an older query is ignored, and a refused search says so and can be tried again', async () => {
  // Another device of alice's, whose WebSocket passes through the test: it can hold back an
  // answer, or answer a search with a refusal in the node's place.
  const rules = {}; // query -> 'hold' | 'fail'
  const queries = [];
  const held = [];
  const { context, page } = await newPerson(browser, node, {
    prepare: (context) =>
      context.routeWebSocket(/\/v1\/ws/, (ws) => {
        const server = ws.connectToServer();
        const asked = new Map(); // request id -> query
        ws.onMessage((message) => {
          const search = JSON.parse(String(message)).search;
          if (search) {
            queries.push(search.query);
            if (rules[search.query] === 'fail') {
              const failure = { request: search.request, code: 'search_unavailable', message: 'the index failed' };
              ws.send(JSON.stringify({ failure }));
              return;
            }
            asked.set(search.request, search.query);
          }
          server.send(message);
        });
        server.onMessage((message) => {
          const answer = JSON.parse(String(message)).searchResults;
          if (answer && rules[asked.get(answer.request)] === 'hold') held.push(() => ws.send(message));
          else ws.send(message);
        });
      }),
  });
  await logIn(page, 'alice');

  rules.pebble = 'hold';
  await searchBox(page).fill('pebble');
  await waitUntil('the search for pebble to go out', () => queries.includes('pebble'));
  await sleep(200);
  assert.equal(held.length, 1, 'its answer is held back');
  await searchFor(page, 'lunchbox');
  for (const release of held.splice(0)) release(); // the answer for pebble comes in late
  await sleep(500);
  const view = page.locator('[data-testid=search-view]');
  assert.equal(await view.getAttribute('data-query'), 'lunchbox');
  assert.deepEqual(await marks(page), ['lunchbox'], 'the late answer for pebble is not shown');

  rules.kumquat = 'fail';
  await searchBox(page).fill('kumquat');
  await page.locator('[data-testid=search-view][data-state=failed]').waitFor();
  assert.equal(await searchStatus(page).textContent(), 'Search failed: search is not available right now. Try again.');
  assert.equal(await hits(page).count(), 0);
  delete rules.kumquat;
  await page.click('[data-testid=search-retry]');
  await page.locator('[data-testid=search-view][data-state=done][data-query="kumquat"]').waitFor();
  assert.equal(await searchStatus(page).textContent(), 'No messages found');
  assert.equal(await page.locator('[data-testid=search-retry]').isVisible(), false);
  await context.close();
});
