// Mentions in group chats (docs/protocol.md, "Replies and mentions"; docs/web.md,
// "Mentions"): the node reads `@name` in a group's texts and lists the members named in the
// message's `mentions`. Here they are drawn as highlighted names, and typing `@` in a group's
// composer offers the members' names.
//
// Only the node decides what is a mention: a `@word` is highlighted when it names a user in
// the message's `mentions`, read the way the node reads it (an `@` at the start or after a
// character that cannot be in a name; case does not matter; a trailing `.`, `-` or `_` is
// dropped when the longer name is no one's). The text goes in as text nodes and spans, never
// as HTML.

import { $, h } from './dom.js';

const NAME_CHAR = /[A-Za-z0-9_.-]/;
const SUGGESTIONS_SHOWN = 6;

// ---- Drawing a message's text ---------------------------------------------------------------
// The children of a message's text: strings, and a span for each mention (the reader's own
// marked `me`). `names`: user id -> name.
export function mentionNodes(text, mentions, names, me) {
  const named = new Map();
  for (const user of mentions ?? []) {
    const name = names.get(user);
    if (name) named.set(name.toLowerCase(), user);
  }
  if (named.size === 0) return [text];
  const nodes = [];
  let from = 0;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    if (at > 0 && NAME_CHAR.test(text[at - 1])) continue; // an address: ann@example.org
    let end = at + 1;
    while (end < text.length && NAME_CHAR.test(text[end])) end += 1;
    const found = nameAt(named, text.slice(at + 1, end));
    if (!found) continue;
    if (at > from) nodes.push(text.slice(from, at));
    const mine = found.user === me;
    nodes.push(
      h('span', { class: `mention${mine ? ' me' : ''}`, dataset: { testid: 'mention', user: found.user } }, `@${found.word}`),
    );
    from = at + 1 + found.word.length;
  }
  if (from < text.length) nodes.push(text.slice(from));
  return nodes;
}

// The member `word` names in `named` (lower-case name -> user), trying it shorter without
// trailing '.', '-' or '_' as the node does; null if none.
function nameAt(named, word) {
  while (word) {
    const user = named.get(word.toLowerCase());
    if (user) return { user, word };
    if (!/[._-]$/.test(word)) return null;
    word = word.slice(0, -1);
  }
  return null;
}

// True if text message `message` mentions user `me`.
export const mentionsOf = (message, me) => message.deleted !== true && (message.mentions ?? []).includes(me);

// ---- Suggestions while typing `@` -------------------------------------------------------------
let ctx = null; // {client(), channel(): the open chat's channel or null}
let offer = null; // {start, end, users: [{user, name}], index}: the list shown

export function wireMentions(context) {
  ctx = context;
  const box = $('composer-text');
  box.addEventListener('input', suggest);
  box.addEventListener('click', suggest);
  box.addEventListener('blur', () => hide());
}

// After each keystroke in the composer: `@` and the start of a name, just before the caret,
// in a group chat, lists the other members whose names start so.
function suggest() {
  const client = ctx.client();
  const channel = ctx.channel();
  const box = $('composer-text');
  if (!client || channel?.kind !== 'group' || !channel.active || box.readOnly || box.selectionStart !== box.selectionEnd) {
    return hide();
  }
  const before = box.value.slice(0, box.selectionStart);
  const match = /(?:^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]*)$/.exec(before);
  if (!match) return hide();
  const typed = match[1].toLowerCase();
  const users = channel.members
    .filter((user) => user !== client.me && client.names.has(user))
    .map((user) => ({ user, name: client.names.get(user) }))
    .filter(({ name }) => name.toLowerCase().startsWith(typed))
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, SUGGESTIONS_SHOWN);
  // Nothing to offer: no name starts so, or the name is written out already (Enter sends).
  if (users.length === 0 || (users.length === 1 && users[0].name.toLowerCase() === typed)) return hide();
  const kept = offer && users.findIndex((u) => u.user === offer.users[offer.index]?.user);
  offer = { start: before.length - typed.length - 1, end: before.length, users, index: kept > 0 ? kept : 0 };
  draw();
}

function draw() {
  const list = $('mention-suggestions');
  list.hidden = !offer;
  $('composer-text').setAttribute('aria-expanded', String(!!offer));
  if (!offer) return list.replaceChildren();
  list.replaceChildren(
    ...offer.users.map(({ user, name }, i) =>
      h(
        'li',
        {
          id: `mention-option-${i}`,
          role: 'option',
          'aria-selected': String(i === offer.index),
          class: i === offer.index ? 'active' : null,
          dataset: { testid: 'mention-suggestion', user },
          // mousedown, not click: the composer keeps the focus (a blur would close the list).
          onmousedown: (event) => {
            event.preventDefault();
            pick(i);
          },
        },
        `@${name}`,
      ),
    ),
  );
  $('composer-text').setAttribute('aria-activedescendant', `mention-option-${offer.index}`);
}

function hide() {
  if (!offer && $('mention-suggestions').hidden) return;
  offer = null;
  $('composer-text').removeAttribute('aria-activedescendant');
  draw();
}

// Puts `@name ` in place of what was typed after the `@`.
function pick(i) {
  const box = $('composer-text');
  const { start, end, users } = offer;
  const inserted = `@${users[i].name} `;
  box.value = box.value.slice(0, start) + inserted + box.value.slice(end);
  box.setSelectionRange(start + inserted.length, start + inserted.length);
  hide();
  box.dispatchEvent(new Event('input')); // typing goes on as for any keystroke
}

// A key in the composer while names are offered: ↑ ↓ move, Enter or Tab picks, Esc closes.
// True if the key was for the list (the composer then does nothing else with it).
export function suggestionKeys(event) {
  if (!offer) return false;
  const count = offer.users.length;
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    offer.index = (offer.index + (event.key === 'ArrowDown' ? 1 : count - 1)) % count;
    draw();
  } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
    pick(offer.index);
  } else if (event.key === 'Escape') {
    hide();
  } else {
    return false;
  }
  event.preventDefault();
  return true;
}
