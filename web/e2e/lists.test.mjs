// The sidebar and the people in it (docs/web.md, "The chat list", "Leaving and removal",
// "Confirming"): a new person is told how to start, and adding yourself says so plainly; the
// chat list is newest first by the time of each chat's last message, with a preview of each
// after a reload and on a new device, without opening any chat; a person removed from a
// group is told who removed them, and the composer says why it cannot be used; what cannot
// be taken back asks first; and while a page is offline, no friend shows online.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addContact,
  chatItem,
  confirmAsk,
  contact,
  createGroup,
  goOffline,
  logIn,
  newPerson,
  openChannel,
  openContact,
  recordFrames,
  screenshot,
  send,
  sentFrames,
  signUp,
  startFriends,
  tearDown,
  waitForMessages,
} from './harness.mjs';

let node;
let browser;
let alice;
let bob;
let carol;
let crag; // alice's group with bob and carol

before(async () => {
  ({ node, browser, people: { alice, bob, carol } } = await startFriends(['alice', 'bob', 'carol']));
});

after(() => tearDown(browser, node));

// The chat list's rows, top to bottom, as "title | preview".
const rows = (page) =>
  page.locator('[data-testid=chat-item]').evaluateAll((all) =>
    all.map((li) => `${li.querySelector('.name').firstChild.textContent} | ${li.querySelector('[data-testid=chat-preview]')?.textContent ?? ''}`),
  );

async function waitForRows(page, expected) {
  await page.waitForFunction(
    (want) =>
      JSON.stringify(
        [...document.querySelectorAll('[data-testid=chat-item]')].map(
          (li) => `${li.querySelector('.name').firstChild.textContent} | ${li.querySelector('[data-testid=chat-preview]')?.textContent ?? ''}`,
        ),
      ) === JSON.stringify(want),
    expected,
    { timeout: 10_000 },
  ).catch(async (error) => {
    throw new Error(`expected the chat list ${JSON.stringify(expected)}, it shows ${JSON.stringify(await rows(page))}: ${error.message}`);
  });
}

test('a new person is told how to start, and adding themselves says so plainly', async () => {
  const dave = await newPerson(browser, node);
  await signUp(dave.page, 'dave');
  const hint = dave.page.locator('[data-testid=empty-hint]');
  await hint.waitFor();
  assert.match(await hint.textContent(), /add someone under Contacts/);
  await screenshot(dave.page, 'empty-hint');

  await dave.page.fill('#contact-name', 'DAVE');
  await dave.page.click('#contact-form button[type=submit]');
  await dave.page.locator('#toast', { hasText: 'That’s you' }).waitFor();
  assert.equal(await dave.page.locator('[data-testid=contact]').count(), 0);
  assert.equal(await hint.isVisible(), true);

  await addContact(dave.page, 'alice');
  await hint.waitFor({ state: 'hidden' });
  // Someone with chats or contacts never sees it.
  assert.equal(await alice.page.locator('[data-testid=empty-hint]').isVisible(), false);
  await dave.context.close();
});

test('the chat list is newest first by last message, with previews after a reload and on a new device', async () => {
  crag = await createGroup(alice.page, 'Crag', ['bob', 'carol']);
  for (let i = 1; i <= 5; i++) await send(alice.page, `crag ${i}`);
  await waitForMessages(alice.page, ['crag 4', 'crag 5']);
  await openContact(alice.page, 'bob');
  await send(alice.page, 'to bob');
  await waitForMessages(alice.page, ['to bob']);
  await openContact(carol.page, 'alice');
  await send(carol.page, 'from carol');
  // The group has the highest seq (its events and five messages), but carol wrote last.
  const expected = ['carol | from carol', 'bob | to bob', 'Crag | crag 5'];
  await waitForRows(alice.page, expected);

  // A reload holds no messages: each chat's newest is asked, and the order is the same.
  await alice.page.reload();
  await alice.page.waitForSelector('[data-testid=status][data-state=online]');
  await waitForRows(alice.page, expected);
  assert.equal(await alice.page.locator('#chat-view').isVisible(), false, 'no chat was opened');

  // So on a new device, with a few entries per chat.
  const device = await newPerson(browser, node);
  const frames = recordFrames(device.page);
  await logIn(device.page, 'alice');
  await waitForRows(device.page, expected);
  const asked = sentFrames({ frames }, 'history');
  assert.equal(asked.length, 3, 'one history request per chat');
  assert.ok(asked.every((h) => h.beforeSeq === '0' && h.limit <= 4), JSON.stringify(asked));
  await device.context.close();
});

test('removing a member asks first, and the member is told who removed them', async () => {
  await openChannel(carol.page, crag);
  await openChannel(alice.page, crag);
  await alice.page.click('#members-toggle');
  const remove = alice.page.locator('[data-testid=member]', { hasText: 'carol' }).locator('button', { hasText: 'Remove' });
  await remove.click();
  await alice.page.locator('[data-testid=ask-dialog][open]').waitFor();
  assert.match(await alice.page.locator('#ask-text').textContent(), /Remove carol from “Crag”\?/);
  await screenshot(alice.page, 'confirm');
  await alice.page.click('[data-testid=ask-cancel]');
  await sleep(300);
  assert.equal(await alice.page.locator('[data-testid=member]').count(), 3, 'Cancel removed no one');
  await remove.click();
  await confirmAsk(alice.page);
  await alice.page.locator('.event', { hasText: 'You removed carol' }).waitFor();

  // carol: who did it, in the header, the composer and the chat list.
  await carol.page.locator('#chat-subtitle', { hasText: 'alice removed you' }).waitFor();
  const composer = carol.page.locator('#composer-text');
  assert.equal(await composer.isDisabled(), true);
  assert.match(await composer.getAttribute('placeholder'), /alice removed you/);
  assert.equal(await composer.evaluate((box) => getComputedStyle(box).cursor), 'not-allowed');
  assert.equal(await carol.page.locator('#composer-send').isDisabled(), true);
  await chatItem(carol.page, crag).locator('[data-testid=chat-preview]', { hasText: 'alice removed you' }).waitFor();
  await screenshot(carol.page, 'removed');

  // A new device of carol's knows it too, without opening the chat.
  const device = await newPerson(browser, node);
  await logIn(device.page, 'carol');
  await chatItem(device.page, crag).locator('[data-testid=chat-preview]', { hasText: 'alice removed you' }).waitFor();
  await device.context.close();

  // bob leaves, after saying yes: "You left".
  await openChannel(bob.page, crag);
  await bob.page.click('#members-toggle');
  await bob.page.click('#leave-group');
  await bob.page.click('[data-testid=ask-cancel]');
  await sleep(300);
  assert.equal(await bob.page.locator('#composer-text').isDisabled(), false, 'Cancel: still in the group');
  await bob.page.click('#leave-group');
  await confirmAsk(bob.page);
  await chatItem(bob.page, crag).locator('[data-testid=chat-preview]', { hasText: 'You left' }).waitFor();
  assert.match(await bob.page.locator('#composer-text').getAttribute('placeholder'), /you left/);
});

test('while a page is offline, no friend shows online', async () => {
  await contact(alice.page, 'bob').and(alice.page.locator('[data-online=true]')).waitFor();
  await goOffline(alice, node);
  await contact(alice.page, 'bob').and(alice.page.locator('[data-online=false]')).waitFor();
  assert.equal(await alice.page.locator('.dot.online').count(), 0, 'no green dot anywhere');
  assert.equal(await contact(alice.page, 'bob').locator('.presence').textContent(), 'not known while you are offline');
  await alice.context.setOffline(false);
  await contact(alice.page, 'bob').and(alice.page.locator('[data-online=true]')).waitFor();
});

test('removing a contact and logging out ask first', async () => {
  await contact(alice.page, 'carol').locator('button', { hasText: 'Remove' }).click();
  await alice.page.locator('[data-testid=ask-dialog][open]').waitFor();
  await alice.page.keyboard.press('Escape');
  await sleep(300);
  assert.equal(await contact(alice.page, 'carol').count(), 1, 'Esc removed nothing');
  await contact(alice.page, 'carol').locator('button', { hasText: 'Remove' }).click();
  await confirmAsk(alice.page);
  await contact(alice.page, 'carol').waitFor({ state: 'detached' });

  await bob.page.click('#logout');
  await bob.page.click('[data-testid=ask-cancel]');
  await sleep(300);
  assert.equal(await bob.page.locator('#app').isVisible(), true, 'Cancel: still logged in');
  await bob.page.click('#logout');
  await confirmAsk(bob.page);
  await bob.page.locator('#auth').waitFor();
});
