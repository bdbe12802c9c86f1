// How messages read (docs/web.md, "Links", "Day separators", "Right-to-left text", "New
// messages", "Refused messages"): the page has an icon; counts read "1 member" and "2
// members"; links in a text are <a> elements, and nothing in a text is ever taken as HTML
// or a script; a separator starts each new day; right-to-left text runs right to left; a
// person reading further up is told of new messages; a refused message keeps its whole text
// and can go back into the composer.
//
// Day separators need messages from other days, and the node stamps every message with its
// own clock. So bob's page reads its frames through a test proxy (`page.routeWebSocket`) that
// moves the `serverTime` of the messages whose text starts with "[3 days ago]" or
// "[yesterday]" to noon of that day.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bubble,
  confirmAsk,
  createGroup,
  openChannel,
  openContact,
  screenshot,
  send,
  seqOf,
  startFriends,
  tearDown,
  waitForMessages,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
const dialogs = []; // any alert() the pages open: a script in a message ran

before(async () => {
  ({ node, browser, people: { alice, bob } } = await startFriends(['alice', 'bob']));
  for (const person of [alice, bob]) person.page.on('dialog', (dialog) => dialogs.push(dialog.message()));
});

after(() => tearDown(browser, node));

// The open chat's list as the person sees it: "day: <label>" for a separator, else the text.
const listing = (page) =>
  page.locator('#message-list > li').evaluateAll((all) =>
    all.map((li) => (li.dataset.testid === 'day-separator' ? `day: ${li.textContent}` : li.querySelector('.text')?.textContent ?? li.textContent)),
  );

test('the page has an icon, served by the node', async () => {
  const href = await alice.page.locator('link[rel=icon]').getAttribute('href');
  assert.equal(href, 'favicon.svg');
  const response = await alice.page.request.get(new URL(href, node.url).href);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /image\/svg\+xml/);
  assert.match(await response.text(), /<svg/);
});

test('links become links, and nothing in a text is taken as HTML', async () => {
  await openContact(alice.page, 'bob');
  const texts = [
    '[3 days ago] Tickets booked',
    '[yesterday] Packing list is up',
    'Guide: https://example.com/guide?day=1). Also www.example.org, and (https://en.wikipedia.org/wiki/Crux_(climbing)).',
    '<img src=x onerror=alert(1)> javascript:alert(1) data:text/html,<b>bold</b> <a href="https://evil.example">x</a>',
  ];
  for (const text of texts) await send(alice.page, text);
  await waitForMessages(alice.page, texts);
  await openContact(bob.page, 'alice');
  await waitForMessages(bob.page, texts);

  const links = await bob.page.locator('[data-testid=message]', { hasText: 'Guide:' }).locator('a').evaluateAll((all) =>
    all.map((a) => ({ text: a.textContent, href: a.getAttribute('href'), target: a.target, rel: a.rel })),
  );
  const rel = 'noopener noreferrer';
  assert.deepEqual(links, [
    { text: 'https://example.com/guide?day=1', href: 'https://example.com/guide?day=1', target: '_blank', rel },
    { text: 'www.example.org', href: 'https://www.example.org/', target: '_blank', rel },
    { text: 'https://en.wikipedia.org/wiki/Crux_(climbing)', href: 'https://en.wikipedia.org/wiki/Crux_(climbing)', target: '_blank', rel },
  ]);
  // The sentence's punctuation stays outside the links, and the text reads as written.
  assert.equal(await bob.page.locator('[data-testid=message] .text', { hasText: 'Guide:' }).textContent(), texts[2]);

  // The hostile one: all of it text, no script run. The one element in it is the page's
  // own link for the https address, not the sender's <a>.
  const hostile = bob.page.locator('[data-testid=message]', { hasText: 'onerror' });
  assert.equal(await hostile.locator('.text').textContent(), texts[3]);
  const inside = await hostile.locator('.text *').evaluateAll((all) =>
    all.map((e) => ({ tag: e.tagName, text: e.textContent, href: e.getAttribute('href'), rel: e.rel, attributes: e.attributes.length })),
  );
  assert.deepEqual(inside, [
    { tag: 'A', text: 'https://evil.example', href: 'https://evil.example/', rel, attributes: 5 }, // href target rel class data-testid
  ]);
  assert.equal(await bob.page.locator('#message-list img, #message-list b, a[href^="javascript:"], a[href^="data:"]').count(), 0);
  await sleep(300);
  assert.deepEqual(dialogs, [], 'no alert ran');
});

test('a separator starts each new day: a date, "Yesterday", "Today"', async () => {
  // bob's page reconnects through the proxy, which moves the first two messages back in time.
  const noon = await bob.page.evaluate(() => {
    const at = (daysAgo) => {
      const date = new Date();
      date.setDate(date.getDate() - daysAgo);
      date.setHours(12, 0, 0, 0);
      return String(date.getTime() * 1000);
    };
    return { '[3 days ago]': at(3), '[yesterday]': at(1) };
  });
  const backdate = (message) => {
    for (const [prefix, us] of Object.entries(noon)) if (message?.text?.startsWith(prefix)) message.serverTime = us;
  };
  await bob.page.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => {
      const parsed = JSON.parse(String(frame));
      for (const message of parsed.historyPage?.messages ?? []) backdate(message);
      for (const entry of parsed.deliver?.entries ?? []) backdate(entry.message);
      ws.send(JSON.stringify(parsed));
    });
  });
  await bob.page.reload();
  await bob.page.waitForSelector('[data-testid=status][data-state=online]');
  await openContact(bob.page, 'alice');
  await bob.page.locator('[data-testid=message]', { hasText: 'onerror' }).waitFor();
  const shown = await listing(bob.page);
  const threeDaysAgo = shown[0];
  assert.match(threeDaysAgo, /^day: /);
  assert.ok(!/Today|Yesterday/.test(threeDaysAgo), `an older day reads as a date: ${threeDaysAgo}`);
  const day = await bob.page.evaluate(() => String(new Date(Date.now() - 3 * 86_400_000).getDate()));
  assert.ok(threeDaysAgo.includes(day), `${threeDaysAgo} names day ${day}`);
  assert.deepEqual(shown.slice(1), [
    '[3 days ago] Tickets booked',
    'day: Yesterday',
    '[yesterday] Packing list is up',
    'day: Today',
    'Guide: https://example.com/guide?day=1). Also www.example.org, and (https://en.wikipedia.org/wiki/Crux_(climbing)).',
    '<img src=x onerror=alert(1)> javascript:alert(1) data:text/html,<b>bold</b> <a href="https://evil.example">x</a>',
  ]);
  await screenshot(bob.page, 'links-days');
});

test('right-to-left text runs right to left: messages, chat list, composer', async () => {
  const arabic = 'مرحبا، هل نتسلق يوم السبت؟';
  await send(alice.page, arabic);
  await waitForMessages(bob.page, [arabic]);
  // The element's computed direction. The chat list is redrawn as messages arrive, and an
  // element the page has just replaced is detached, where getComputedStyle says '': ask the
  // locator again (it finds the new element) until the answer is a direction.
  const direction = async (locator) => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const found = await locator.evaluate((element) =>
        element.isConnected ? getComputedStyle(element).direction : '',
      );
      if (found !== '') return found;
      await sleep(100);
    }
    return '';
  };
  assert.equal(await direction(bob.page.locator('[data-testid=message] .text', { hasText: arabic })), 'rtl');
  assert.equal(await direction(bob.page.locator('[data-testid=message] .text', { hasText: 'Tickets booked' })), 'ltr');
  assert.equal(await direction(alice.page.locator('[data-testid=chat-preview]', { hasText: arabic })), 'rtl');
  await bob.page.fill('#composer-text', 'שלום, כן!');
  assert.equal(await direction(bob.page.locator('#composer-text')), 'rtl');
  await bob.page.fill('#composer-text', 'Yes!');
  assert.equal(await direction(bob.page.locator('#composer-text')), 'ltr');
  await bob.page.fill('#composer-text', '');
});

test('counts read "1 member" and "2 members"', async () => {
  const pair = await createGroup(alice.page, 'Pair', ['bob']);
  await alice.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
  await openChannel(bob.page, pair);
  await bob.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
  await bob.page.click('#members-toggle');
  await bob.page.click('#leave-group');
  if (await bob.page.locator('[data-testid=ask-dialog]').count()) await confirmAsk(bob.page); // lists.test.mjs
  await alice.page.locator('.event', { hasText: 'bob left' }).waitFor();
  await alice.page.locator('#chat-subtitle', { hasText: /^1 member$/ }).waitFor();
});

test('new messages below what the person reads are announced, and the button takes them there', async () => {
  await openContact(alice.page, 'bob');
  await openContact(bob.page, 'alice');
  const filler = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`);
  for (const text of filler) await send(alice.page, text);
  await waitForMessages(bob.page, filler.slice(-3));
  const button = bob.page.locator('[data-testid=new-messages]');
  assert.equal(await button.isVisible(), false, 'at the bottom, nothing to announce');

  // bob reads further up; alice writes twice.
  await bob.page.locator('#messages').evaluate((box) => box.scrollTo(0, box.scrollHeight / 3));
  await send(alice.page, 'are you there?');
  await button.filter({ hasText: '1 new message ↓' }).waitFor();
  await send(alice.page, 'hello?');
  await button.filter({ hasText: '2 new messages ↓' }).waitFor();
  const away = await bob.page.locator('#messages').evaluate((box) => box.scrollHeight - box.scrollTop - box.clientHeight);
  assert.ok(away > 100, 'the new messages did not pull bob down');
  await screenshot(bob.page, 'new-messages');

  await button.click();
  await button.waitFor({ state: 'hidden' });
  const left = await bob.page.locator('#messages').evaluate((box) => box.scrollHeight - box.scrollTop - box.clientHeight);
  assert.ok(left < 40, `the button scrolled to the newest (${left} px left)`);
  // His own message does not announce itself.
  await bob.page.locator('#messages').evaluate((box) => box.scrollTo(0, 100));
  await send(bob.page, 'here!');
  await sleep(300);
  assert.equal(await button.isVisible(), false);
});

test('a refused message keeps its whole text, and Edit puts it back in the composer', async () => {
  const long = `${'x'.repeat(99_990)} the end 12345`; // 100,004 code points: too long
  await bob.page.fill('#composer-text', long);
  await bob.page.press('#composer-text', 'Enter');
  const failed = bob.page.locator('[data-testid=failed]');
  await failed.locator('.meta', { hasText: 'too long' }).waitFor();
  assert.equal(await failed.getAttribute('data-length'), String(long.length));
  assert.equal(await failed.locator('.text').textContent(), long, 'the bubble holds all of it');
  assert.equal(await bob.page.inputValue('#composer-text'), '');

  await failed.locator('[data-testid=failed-edit]').click();
  await failed.waitFor({ state: 'detached' });
  assert.equal(await bob.page.inputValue('#composer-text'), long, 'the whole text is back to edit');
  // Shortened, it goes.
  await bob.page.fill('#composer-text', (await bob.page.inputValue('#composer-text')).slice(-13));
  await bob.page.press('#composer-text', 'Enter');
  await waitForMessages(alice.page, ['the end 12345']);
  assert.ok(await seqOf(bob.page, 'the end 12345'));
  assert.equal(await bubble(bob.page, await seqOf(bob.page, 'the end 12345')).count(), 1);
});
