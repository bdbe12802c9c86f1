// The page's side of replies (docs/web.md, "Replies"): the reply bar above the composer,
// the quote at the top of a reply, and the short highlight of the original a click on a
// quote scrolls to. The protocol side (what a quote says now) is replies.js and edits.js;
// app.js draws the bubbles and calls in here, and the ⋯ menu (edits-ui.js) offers Reply.

import { $, h } from './dom.js';
import { cancelEdit } from './edits-ui.js';
import { isReply, quoteOf, replyToOf } from './replies.js';

const FLASH_MS = 1600; // how long the original stays highlighted
const PAGES_SOUGHT = 10; // older history pages a click on a quote loads to find its original
const SNIPPET = 100; // code points of the original in the reply bar

let ctx = null; // {client(), render(), toast(text)} from app.js
let replying = null; // {channel, seq}: the message the next send replies to
let flashing = null; // {channel, seq}: the original highlighted for a moment
let flashTimer = null;

const client = () => ctx.client();
const nameOf = (user) => (user === client().me ? 'You' : (client().names.get(user) ?? `user ${user}`));

export function wireReplies(context) {
  ctx = context;
  $('reply-cancel').addEventListener('click', () => {
    cancelReply();
    $('composer-text').focus();
  });
}

// ---- Replying ------------------------------------------------------------------------------
// Reply in the ⋯ menu of `message`: the bar shows what is answered and the next send
// carries its seq. Editing and replying exclude each other: this ends an edit.
export function startReply(channel, message) {
  cancelEdit();
  replying = { channel: channel.id, seq: message.seq };
  ctx.render();
  $('composer-text').focus();
}

// Esc in the composer or ✕ in the bar: true if it ended a reply.
export function cancelReply() {
  if (!replying) return false;
  replying = null;
  ctx.render();
  return true;
}

// Opening another chat (or none) ends a reply.
export function leaveReply() {
  replying = null;
  flashing = null;
  drawBar(null);
}

// A message is sent: the seq it replies to ("0": none), and the bar goes.
export function takeReply(channelId) {
  const seq = replying?.channel === channelId ? replying.seq : '0';
  replying = null;
  return seq;
}

// Before the open chat `channel` is drawn: a reply to a message deleted meanwhile ends (the
// node would refuse it), and the bar follows.
export function syncReplying(channel) {
  const original = replying && channel?.id === replying.channel ? channel.messages.get(replying.seq) : null;
  if (replying && (!original || original.deleted === true)) {
    if (original) ctx.toast('The message you were replying to was deleted.');
    replying = null;
  }
  drawBar(replying ? original : null);
}

// The bar above the composer for a reply to `original`, or hidden and empty (no copy of a
// text stays behind in the page).
function drawBar(original) {
  $('reply-bar').hidden = !original;
  $('reply-name').textContent = original ? `Replying to ${nameOf(original.sender)}` : '';
  const text = [...(original?.text ?? '')];
  $('reply-text').textContent = text.length > SNIPPET ? `${text.slice(0, SNIPPET).join('')}…` : text.join('');
}

// ---- Quotes ----------------------------------------------------------------------------------
// The quote at the top of reply `message` in `channel` (a message held, or a send in the
// outbox, which has only `replyTo`), or null for a message that is no reply.
export function quoteBlock(channel, message) {
  if (!isReply(message)) return null;
  const seq = replyToOf(message);
  const original = channel.messages.get(seq);
  const quote = message.quote ?? (original?.kind === 'text' ? quoteOf(original) : null);
  if (!quote || quote.unavailable) {
    // Sent outside the reader's membership (or not known yet): nothing of it may be shown.
    return h(
      'div',
      { class: 'quote quote-unavailable', dataset: { testid: 'quote', replyTo: seq, state: 'unavailable' } },
      h('span', { class: 'quote-text' }, 'message unavailable'),
    );
  }
  const state = quote.deleted ? 'deleted' : 'text';
  return h(
    'button',
    {
      type: 'button',
      class: `quote${quote.deleted ? ' quote-deleted' : ''}`,
      title: 'Show the message it replies to',
      dataset: { testid: 'quote', replyTo: seq, state, action: 'quote' },
      onclick: () => showOriginal(channel.id, seq),
    },
    h('span', { class: 'quote-sender', dataset: { testid: 'quote-sender' } }, nameOf(quote.sender)),
    quote.deleted
      ? h('em', { class: 'quote-text', dataset: { testid: 'quote-text' } }, 'deleted')
      : h('span', { class: 'quote-text', dir: 'auto', dataset: { testid: 'quote-text' } }, quote.text),
  );
}

// True while message `seq` of `channelId` is the original a quote was clicked for.
export const isFlashing = (channelId, seq) => flashing?.channel === channelId && flashing.seq === seq;

// A click on a quote: scrolls to the original and highlights it for a moment. An original
// older than what is loaded is looked for a few history pages back.
async function showOriginal(channelId, seq) {
  const channel = client().channels.get(channelId);
  for (let page = 0; page < PAGES_SOUGHT && channel && !channel.messages.has(seq) && channel.hasMore; page++) {
    await client().loadOlder(channelId);
  }
  if (!channel?.messages.has(seq) || client().viewing !== channelId) {
    if (client().viewing === channelId) ctx.toast('The message it replies to is not loaded.');
    return;
  }
  flashMessage(channelId, seq);
}

// Scrolls the open chat to its message `seq` (held) and highlights it for `ms`: for a quote
// clicked, and for a search result opened (search-ui.js).
export function flashMessage(channelId, seq, ms = FLASH_MS) {
  clearTimeout(flashTimer);
  flashing = { channel: channelId, seq };
  ctx.render();
  // At once, not smoothly: a smooth scroll is cut short when the list is redrawn meanwhile
  // (a message arriving, the highlight's own render), and the message then stays out of
  // sight (CI's slow ASan run showed it). The highlight shows where the eye should go.
  document.querySelector(`#message-list li[data-seq="${seq}"]`)?.scrollIntoView({ block: 'center' });
  flashTimer = setTimeout(() => {
    flashing = null;
    ctx.render();
  }, ms);
}
