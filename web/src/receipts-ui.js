// The page's side of receipts (docs/web.md, "Receipts"): the ticks and "read by N of M" on
// our messages, the panel listing who read one, and the read receipts setting. What the
// positions are, and asking the node, is receipts.js; app.js draws the bubbles and calls
// in here.

import { $, h } from './dom.js';

let ctx = null; // {client(), render(), toast(text)} from app.js
let readersOf = null; // {channel, seq}: the message whose readers are listed
let settingBusy = false; // a change of the read receipts setting is on its way

const client = () => ctx.client();

export function wireReceipts(context) {
  ctx = context;
  $('read-receipts').addEventListener('change', changeReadReceipts);
  $('readers-close').addEventListener('click', () => {
    readersOf = null;
    ctx.render();
  });
}

// Opening another chat (or none) closes the list of readers.
export function closeReaders() {
  readersOf = null;
}

const RECEIPT_TEXT = { sent: 'Sent', delivered: 'Delivered', read: 'Read' };

// The ticks on our message `seq`: ✓ stored, ✓✓ on every other member's device, blue ✓✓ read
// by all; in a group also "read by N of M" once someone read it, which lists them.
export function receiptMarks(channel, seq) {
  const { state, readers, of } = client().receipts.status(channel, seq);
  const ticks = h(
    'span',
    { class: 'receipt', title: RECEIPT_TEXT[state], 'aria-label': RECEIPT_TEXT[state], dataset: { state, testid: 'receipt' } },
    state === 'sent' ? '✓' : '✓✓',
  );
  if (channel.kind !== 'group' || readers.length === 0) return [ticks];
  const open = readersOf?.channel === channel.id && readersOf.seq === seq;
  const readBy = h(
    'button',
    {
      type: 'button',
      class: 'link read-by',
      'aria-expanded': String(open),
      dataset: { testid: 'read-by', read: String(readers.length), of: String(of) },
      onclick: () => {
        readersOf = open ? null : { channel: channel.id, seq };
        ctx.render();
      },
    },
    `read by ${readers.length} of ${of}`,
  );
  return [ticks, readBy];
}

// The list behind "read by N of M": who read the message, then who has it but did not read
// it yet, then who does not have it yet. It follows their receipts while it is open.
export function renderReaders(channel) {
  const panel = $('readers-panel');
  let message = channel && readersOf?.channel === channel.id ? channel.messages.get(readersOf.seq) : null;
  if (message?.deleted === true) message = null; // deleted for everyone: nothing to list
  panel.hidden = !message;
  if (!message) return;
  const { receipts, me, names } = client();
  const { readers, of } = receipts.status(channel, message.seq);
  const members = channel.members.filter((user) => user !== me);
  const rank = (user) => receipts.memberState(channel.id, user, message.seq);
  const order = { read: 0, delivered: 1, sent: 2 };
  const label = { read: 'read', delivered: 'delivered, not read yet', sent: 'not delivered yet' };
  members.sort((a, b) => order[rank(a)] - order[rank(b)]);
  $('readers-title').textContent = `“${message.text.slice(0, 40)}” read by ${readers.length} of ${of}`;
  $('readers').replaceChildren(
    ...members.map((user) =>
      h(
        'li',
        { dataset: { user, state: rank(user), testid: 'reader' } },
        h('span', { class: 'name' }, names.get(user) ?? `user ${user}`, h('small', {}, label[rank(user)])),
      ),
    ),
  );
}

// The read receipts toggle: the node's value, left alone while a change is on its way.
export function renderSettings() {
  const value = client().receipts.readReceipts;
  $('read-receipts').disabled = value === null || settingBusy;
  if (!settingBusy) $('read-receipts').checked = value !== false;
}

async function changeReadReceipts() {
  settingBusy = true;
  ctx.render();
  try {
    await client().receipts.setReadReceipts($('read-receipts').checked);
  } catch (error) {
    ctx.toast(error.code ? error.message : 'Not connected: the setting was not changed.');
  } finally {
    settingBusy = false;
    ctx.render();
  }
}
