// The open chat's messages (docs/web.md, "What a person can do"): the bubbles with their
// links and mentions, a separator at each new day, membership events as lines, our sends
// on their way or refused, and the "new messages ↓" button while the person reads further
// up. app.js calls renderMessages at every change.

import { $, h } from './dom.js';
import { Edits } from './edits.js';
import { cancelEdit, isEditing, keepFocus, messageActions } from './edits-ui.js';
import { clock, dayKey, dayLabel, plural } from './format.js';
import { linkNodes } from './links.js';
import { mentionNodes, mentionsOf } from './mentions.js';
import { receiptMarks } from './receipts-ui.js';
import { isFlashing, quoteBlock } from './replies-ui.js';

const NEAR_BOTTOM_PX = 40; // this close to the end counts as reading the newest

let ctx = null; // {client(), render()} from app.js
let seen = { channel: null, seq: 0n }; // the newest message shown while the person was at the bottom

export function wireMessages(context) {
  ctx = context;
  $('new-messages').addEventListener('click', () => {
    scrollToBottom();
    ctx.render();
  });
}

const client = () => ctx.client();
const big = (id) => BigInt(id ?? 0);

export function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

const atBottom = (box) => box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;

// The person scrolled: at the bottom, everything is seen and the button goes.
export function onScroll() {
  if (atBottom($('messages')) && !$('new-messages').hidden) ctx.render();
}

// `name` gives "You" for the reader, `object` gives "you".
const EVENT_TEXT = {
  group_created: (m, name) => `${name(m.sender)} created the group “${m.text}”`,
  member_added: (m, name, object) => `${name(m.sender)} added ${m.users.map(object).join(', ')}`,
  member_removed: (m, name, object) => `${name(m.sender)} removed ${m.users.map(object).join(', ')}`,
  member_left: (m, name) => `${name(m.users[0] ?? m.sender)} left`,
  admin_changed: (m, name) => `${name(m.users[0])} ${m.users[0] === client().me ? 'are' : 'is'} now the admin`,
};

// The line that starts a new day in the list.
const daySeparator = (us) =>
  h('li', { class: 'day', role: 'separator', dataset: { testid: 'day-separator' } }, h('span', {}, dayLabel(us)));

export function renderMessages(channel, peer) {
  const box = $('messages');
  const wasAtBottom = atBottom(box);
  const heightBefore = box.scrollHeight;
  const shown = channel ? client().edits.shown(channel) : [];
  const items = [];
  let day = null;
  for (const message of shown) {
    if (dayKey(message.serverTime) !== day) items.push(daySeparator(message.serverTime));
    day = dayKey(message.serverTime);
    items.push(message.kind === 'text' ? bubble(channel, message) : eventLine(message));
  }
  const held = new Set(shown.map((m) => m.clientMsgId));
  for (const item of client().outbox.outgoing(channel?.id, peer)) {
    if (held.has(item.clientMsgId)) continue;
    const us = item.sentAt * 1000;
    if (dayKey(us) !== day) items.push(daySeparator(us));
    day = dayKey(us);
    items.push(outgoing(channel, peer, item));
  }
  keepFocus($('message-list'), () => $('message-list').replaceChildren(...items));
  $('load-older').hidden = !channel || !channel.loaded || !channel.hasMore;
  if (wasAtBottom) scrollToBottom();
  else if (box.scrollTop < NEAR_BOTTOM_PX) box.scrollTop += box.scrollHeight - heightBefore; // older page prepended
  renderNewMessages(channel, shown);
}

// "3 new messages ↓": messages from others that arrived in the open chat below what the
// person is reading. Reaching the bottom (scrolling, or the button) makes them seen.
function renderNewMessages(channel, shown) {
  const newest = shown.length ? big(shown.at(-1).seq) : 0n;
  if (seen.channel !== (channel?.id ?? null)) seen = { channel: channel?.id ?? null, seq: newest }; // a chat opened
  if (atBottom($('messages'))) seen.seq = newest;
  const unseen = shown.filter((m) => m.kind === 'text' && big(m.seq) > seen.seq && m.sender !== client().me).length;
  $('new-messages').hidden = unseen === 0;
  $('new-messages').textContent = `${plural(unseen, 'new message')} ↓`;
}

function eventLine(message) {
  const me = client().me;
  const name = (user) => (user === me ? 'You' : (client().names.get(user) ?? `user ${user}`));
  const object = (user) => (user === me ? 'you' : name(user));
  const text = EVENT_TEXT[message.kind]?.(message, name, object) ?? message.kind;
  return h('li', { class: 'event', dataset: { seq: message.seq } }, text);
}

// A text message: its sender in a group, the quote of a reply, the text with its links and
// mentions, then "edited", the time and our ticks, and the ⋯ actions.
function bubble(channel, message) {
  const c = client();
  const group = channel.kind === 'group';
  const mine = message.sender === c.me;
  // A message deleted for everyone is a tombstone: no text, no ticks, no actions.
  const deleted = message.deleted === true;
  const edited = Edits.edited(message);
  const dataset = { seq: message.seq, testid: 'message' };
  if (edited) dataset.edited = 'true';
  if (deleted) dataset.deleted = 'true';
  const mentioned = group && mentionsOf(message, c.me); // mentions.js
  if (mentioned) dataset.mentioned = 'true';
  if (isFlashing(channel.id, message.seq)) dataset.highlighted = 'true'; // a quote of it was clicked
  const editing = isEditing(channel.id, message.seq);
  const marked = (piece) => mentionNodes(piece, message.mentions, c.names, c.me);
  const text = deleted ? ['This message was deleted'] : linkNodes(message.text, group ? marked : undefined);
  const classes = `${mine ? ' mine' : ''}${deleted ? ' deleted' : ''}${editing ? ' editing' : ''}${mentioned ? ' mentioned' : ''}`;
  const sender = c.names.get(message.sender) ?? `user ${message.sender}`;
  return h(
    'li',
    { class: `message${classes}`, dataset },
    group && !mine ? h('span', { class: 'sender' }, sender) : null,
    deleted ? null : quoteBlock(channel, message), // replies-ui.js
    h('span', { class: 'text', dir: 'auto' }, ...text),
    h(
      'span',
      { class: 'meta' },
      edited ? h('span', { class: 'edited', dataset: { testid: 'edited' } }, 'edited') : null,
      clock(message.serverTime),
      ...(mine && !deleted ? receiptMarks(channel, message.seq) : []),
    ),
    ...(deleted ? [] : messageActions(channel, message)),
  );
}

// One of our sends: "sending…", stored (✓) but not delivered back yet, or refused. A refused
// one keeps its whole text (scrollable when long) and offers Edit, which puts the text back
// in the composer, while the chat can still be written to.
function outgoing(channel, peer, item) {
  const stored = !item.error && item.seq && client().channels.get(item.channel);
  const writable = channel ? channel.active !== false : !!peer;
  return h(
    'li',
    {
      class: `message mine ${item.error ? 'failed' : stored ? '' : 'pending'}`,
      dataset: { testid: item.error ? 'failed' : 'pending', length: String([...item.text].length) },
    },
    channel ? quoteBlock(channel, item) : null,
    h('span', { class: 'text', dir: 'auto' }, ...linkNodes(item.text)),
    h(
      'span',
      { class: 'meta' },
      item.error ? `Not sent: ${item.error} ` : stored ? clock(item.sentAt * 1000) : 'sending…',
      item.error && writable
        ? h('button', { type: 'button', class: 'link', dataset: { testid: 'failed-edit' }, onclick: () => editFailed(item) }, 'Edit')
        : null,
      item.error
        ? h('button', { type: 'button', class: 'link', onclick: () => client().outbox.dismiss(item.clientMsgId) }, 'Dismiss')
        : null,
      ...(stored ? receiptMarks(stored, item.seq) : []),
    ),
  );
}

// Edit on a refused send: its text goes back into the composer (after what is written
// there already, so nothing is lost), and the refused bubble goes.
function editFailed(item) {
  cancelEdit(); // an edit of another message gives the composer back first
  const box = $('composer-text');
  box.value = box.value.trim() ? `${box.value}\n${item.text}` : item.text;
  client().outbox.dismiss(item.clientMsgId);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  box.dispatchEvent(new Event('input')); // as typed: the typing indicator and @names follow
}
