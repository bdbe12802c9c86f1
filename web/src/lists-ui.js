// The sidebar (docs/web.md, "What a person can do"): the chat list, newest first with a
// preview of each chat's last message (message requests are left out: the list starts with
// the entry that opens them, requests-ui.js), the contacts with their presence, and the hint
// for a new person who has neither. Also the lines about people the chat header shares with
// it: presence, who is typing, why a group can no longer be written to.

import { $, h } from './dom.js';
import { ago } from './format.js';
import { mutedIcon } from './mute-ui.js';
import { askConfirm } from './confirm-ui.js';
import { requestsEntry } from './requests-ui.js';

let ctx = null; // {client(), current(), openChat(target), openWith(user), toast(text)} from app.js

export function wireLists(context) {
  ctx = context;
}

const client = () => ctx.client();
const name = (user) => client().names.get(user) ?? `user ${user}`;

// ---- People ------------------------------------------------------------------------------------
// True if `user` is online as far as we know: presence is live only while we are connected,
// so while we are not, nobody is shown online (what we last heard may be long stale).
export const isOnline = (user) => client().status === 'online' && !!client().presence.get(user)?.online;

export function presenceLine(user) {
  const presence = client().presence.get(user);
  if (!presence) return '';
  if (client().status !== 'online') return 'not known while you are offline';
  return presence.online ? 'online' : `last active ${ago(presence.lastActiveAt)}`;
}

// "alice is typing…", "alice and bob are typing…", "3 people are typing…", or '' for nobody.
export function typingLine(channelId) {
  const typists = client().typing.typists(channelId);
  if (typists.length === 0) return '';
  if (typists.length === 1) return `${name(typists[0])} is typing…`;
  if (typists.length === 2) return `${name(typists[0])} and ${name(typists[1])} are typing…`;
  return `${typists.length} people are typing…`;
}

// How we stopped being a member of group `channel`: {left: true}, {by: the admin who
// removed us}, or {} when the event that ended it is not held. The event's sender is who
// caused it (docs/protocol.md, "Message").
export function departure(channel) {
  const me = client().me;
  let found = null;
  for (const message of channel.messages.values()) {
    const ours =
      (message.kind === 'member_removed' && message.users.includes(me)) ||
      (message.kind === 'member_left' && (message.users[0] ?? message.sender) === me);
    if (ours && (!found || BigInt(message.seq) > BigInt(found.seq))) found = message;
  }
  if (!found) return {};
  return found.kind === 'member_left' || found.sender === me ? { left: true } : { by: found.sender };
}

// "alice removed you", "You left", or '' when not known.
export function departureText(channel) {
  const { left, by } = departure(channel);
  if (left) return 'You left';
  return by ? `${name(by)} removed you` : '';
}

// ---- The chat list -------------------------------------------------------------------------------
// When `channel` last had a message, in µs of node time: its newest message held (an event
// counts, an edit or a delete does not), or a send of ours on its way; 0 if none is known.
export function lastActivity(channel) {
  let latest = 0;
  for (const message of channel.messages.values()) {
    if (message.kind !== 'edited' && message.kind !== 'deleted') latest = Math.max(latest, Number(message.serverTime));
  }
  for (const item of client().outbox.outgoing(channel.id, null)) latest = Math.max(latest, item.sentAt * 1000);
  return latest;
}

// Newest first by the time of the last message; `lastSeq` counts per chat and says nothing
// across chats. Chats with nothing known yet (their preview is on its way) go last, newest
// channel first.
export function byActivity(a, b) {
  return lastActivity(b) - lastActivity(a) || (BigInt(b.id) > BigInt(a.id) ? 1 : -1);
}

export function preview(channel) {
  const last = client().edits.last(channel); // an edit or a delete is not a message of its own
  if (!channel.active) return { text: departureText(channel) || 'You are no longer a member' };
  if (last?.deleted === true) return { text: 'message deleted', gone: true };
  return { text: last?.kind === 'text' ? last.text.slice(0, 60) : '' };
}

export function renderChats() {
  const c = client();
  const current = ctx.current();
  const known = [...c.channels.values()].filter((channel) => channel.kind !== 'unknown');
  const channels = known.filter((channel) => channel.request !== true).sort(byActivity);
  $('chats').replaceChildren(
    // No requests: no entry (replaceChildren would print a null as the text "null").
    ...[requestsEntry()].filter((entry) => entry !== null),
    ...channels.map((channel) => {
      const unread = c.unread.get(channel.id) ?? 0;
      const muted = c.mutes.muted(channel.id); // still counted, in a grey badge
      const peer = channel.kind === 'direct' ? c.peerOf(channel) : null;
      // A chat that is not open says who types in it in place of its last message.
      const typing = current?.channel !== channel.id && c.typing.typists(channel.id).length > 0;
      const { text, gone } = preview(channel);
      return h(
        'li',
        {
          class: `clickable${current?.channel === channel.id ? ' selected' : ''}`,
          dataset: { channel: channel.id, testid: 'chat-item', muted: String(muted) },
          onclick: () => ctx.openChat({ channel: channel.id }),
        },
        peer ? h('span', { class: `dot${isOnline(peer) ? ' online' : ''}` }) : h('span', { class: 'dot group' }),
        h(
          'span',
          { class: 'name' },
          c.title(channel),
          typing
            ? h('small', { class: 'typing', dataset: { testid: 'chat-typing' } }, peer ? 'typing…' : typingLine(channel.id))
            : h('small', { class: gone ? 'deleted' : null, dir: 'auto', dataset: { testid: 'chat-preview' } }, text),
        ),
        mutedIcon(c, channel),
        unread ? h('span', { class: `badge${muted ? ' muted' : ''}`, dataset: { testid: 'unread' } }, String(unread)) : null,
      );
    }),
  );
  // A new person with no chat and no contact is told how to start, once the node said so.
  const newcomer = c.channelsListed && c.contactsListed && known.length === 0 && c.contacts.length === 0;
  $('empty-hint').hidden = !newcomer;
  $('chat-empty').textContent = newcomer ? 'Add a contact to start chatting.' : 'Pick a chat or a contact to start.';
  // Muted chats and requests draw no attention: they are left out of the total and the
  // tab's title. (A chat that became a request may keep what counted before.)
  const quiet = (id) => c.mutes.muted(id) || c.requests.isRequest(id);
  const total = [...c.unread].reduce((sum, [id, count]) => (quiet(id) ? sum : sum + count), 0);
  $('unread-total').hidden = total === 0;
  $('unread-total').textContent = String(total);
  document.title = total ? `(${total}) parley` : 'parley';
}

// ---- Contacts ------------------------------------------------------------------------------------
export function renderContacts() {
  const c = client();
  $('contacts').replaceChildren(
    ...c.contacts.map((contact) => {
      const presence = c.presence.get(contact.user);
      const online = isOnline(contact.user);
      const blocked = contact.state === 'blocked';
      // Presence flows only between friends, so a presence entry means they added us too
      // (it can arrive a moment before the refreshed contact list says so).
      const detail = blocked
        ? 'blocked'
        : !contact.mutual && !presence
          ? 'waiting for them to add you'
          : presenceLine(contact.user) || 'offline';
      return h(
        'li',
        {
          class: blocked ? '' : 'clickable',
          dataset: { user: contact.user, name: contact.name, testid: 'contact', online: String(online) },
          onclick: blocked ? undefined : () => ctx.openWith(contact.user),
        },
        h('span', { class: `dot${online ? ' online' : ''}`, title: online ? 'online' : 'offline' }),
        h('span', { class: 'name' }, contact.name, h('small', { class: 'presence' }, detail)),
        ...(blocked ? ['unblock'] : ['block', 'remove']).map((action) => contactButton(contact, action)),
      );
    }),
  );
}

const CONTACT_ACTIONS = {
  block: { text: 'Block', testid: 'contact-block' },
  remove: { text: 'Remove', testid: 'contact-remove' },
  unblock: { text: 'Unblock', testid: 'contact-unblock' },
};

function contactButton(contact, action) {
  const { text, testid } = CONTACT_ACTIONS[action];
  const onclick = (event) => {
    event.stopPropagation();
    changeContact(contact, action);
  };
  return h('button', { type: 'button', class: 'link', title: `${text} ${contact.name}`, dataset: { testid }, onclick }, text);
}

// What removing and blocking do, asked first. Either makes your 1:1 chat with them a message
// request again (the node's rule), so it moves to Requests. Unblocking takes nothing away.
const CONTACT_QUESTIONS = {
  remove: (name) => [`Remove ${name} from your contacts? You will no longer see each other online.`, 'Remove contact'],
  block: (name) => [`Block ${name}? They can no longer write to you one to one or add you to groups.`, 'Block'],
};

async function changeContact(contact, action) {
  const question = CONTACT_QUESTIONS[action];
  if (question) {
    const [text, button] = question(contact.name);
    const moves = client().directChannelWith(contact.user) ? ' Your chat with them moves to Requests.' : '';
    if (!(await askConfirm(text + moves, button))) return;
  }
  client()
    ?.changeContact(contact.user, action)
    .catch((error) => ctx.toast(error.message));
}
