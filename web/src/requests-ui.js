// The page's side of message requests (docs/web.md, "Message requests"): the "Requests (N)"
// entry at the top of the chat list, the Requests view that lists them in the sidebar, and
// the banner above the composer of an open request with Accept, Block and Delete. What a
// request is, and answering it, is requests.js.

import { askConfirm } from './confirm-ui.js';
import { $, h } from './dom.js';
import { listTime } from './format.js';
import { byActivity, isOnline, lastActivity, preview } from './lists-ui.js';

let ctx = null; // {client(), current(), openChat(target), toast(text)} from app.js
let showing = false; // the sidebar shows the Requests view instead of the chat list
let openRequest = null; // the channel id of the request last drawn open, with its banner

export function wireRequests(context) {
  ctx = context;
  $('requests-back').addEventListener('click', () => show(false));
  $('request-accept').addEventListener('click', () => answer('accept'));
  $('request-block').addEventListener('click', () => answer('block'));
  $('request-delete').addEventListener('click', () => answer('delete'));
}

const client = () => ctx.client();
const name = (user) => client().names.get(user) ?? `user ${user}`;

function show(on) {
  showing = on;
  client()?.changed();
}

// ---- The sidebar -------------------------------------------------------------------------------
// The first row of the chat list while there are requests: no badge, they do not count.
export function requestsEntry() {
  const count = client().requests.list().length;
  if (count === 0) return null;
  return h(
    'li',
    { class: 'clickable requests-entry', dataset: { testid: 'requests-entry' }, onclick: () => show(true) },
    h('span', { class: 'name' }, `Requests (${count})`, h('small', {}, 'From people who are not your contacts')),
    h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
  );
}

// The Requests view, in place of the chat list while it is shown: newest first, each with
// its name, last message and time. It closes by itself when the last request is answered,
// and when the open one is accepted (by Accept, a reply, or on another device): the chat is
// in the chat list now, selected.
export function renderRequests() {
  const c = client();
  const requests = c.requests.list().sort(byActivity);
  const accepted = openRequest !== null && c.channels.get(openRequest)?.request === false;
  if (requests.length === 0 || (accepted && ctx.current()?.channel === openRequest)) showing = false;
  if (accepted) openRequest = null;
  $('chats-heading').hidden = showing;
  $('chats').hidden = showing;
  $('requests-view').hidden = !showing;
  const open = ctx.current()?.channel;
  $('requests').replaceChildren(...(showing ? requests.map((channel) => requestRow(channel, channel.id === open)) : []));
}

function requestRow(channel, selected) {
  const c = client();
  const peer = channel.kind === 'direct' ? c.peerOf(channel) : null;
  const at = lastActivity(channel);
  return h(
    'li',
    {
      class: `clickable${selected ? ' selected' : ''}`,
      dataset: { channel: channel.id, testid: 'request-item' },
      onclick: () => ctx.openChat({ channel: channel.id }),
    },
    peer ? h('span', { class: `dot${isOnline(peer) ? ' online' : ''}` }) : h('span', { class: 'dot group' }),
    h(
      'span',
      { class: 'name' },
      c.title(channel),
      h('small', { dir: 'auto', dataset: { testid: 'request-preview' } }, preview(channel).text),
    ),
    at ? h('small', { class: 'time', dataset: { testid: 'request-time' } }, listTime(at)) : null,
  );
}

// ---- The banner of an open request -----------------------------------------------------------
// "bob is not in your contacts" (or "You blocked bob"), or for a group "alice added you to
// this group", with the three answers. Hidden in any other chat.
export function renderRequestBanner(channel) {
  const c = client();
  const request = !!channel && channel.request === true;
  $('request-banner').hidden = !request;
  if (!request) return;
  openRequest = channel.id;
  const group = channel.kind === 'group';
  const starter = c.requests.starter(channel);
  const blocked = !group && c.contacts.some((entry) => entry.user === starter && entry.state === 'blocked');
  $('request-text').textContent = group
    ? `${name(starter)} added you to this group`
    : blocked
      ? `You blocked ${name(starter)}`
      : `${name(starter)} is not in your contacts`;
  $('request-note').textContent = 'Until you accept or reply, they are not told you read their messages.';
  $('request-block').hidden = blocked;
  const busy = c.requests.answering.has(channel.id);
  for (const id of ['request-accept', 'request-block', 'request-delete']) $(id).disabled = busy;
}

// What each answer asks first: [question, button]. Accepting takes nothing away.
const QUESTIONS = {
  delete: (who, channel) =>
    channel.kind === 'group'
      ? [`Delete this request and leave “${channel.name}”? The members see that you left.`, 'Delete and leave']
      : [`Delete this request from ${who}? Its messages are deleted for you. ${who} is not told.`, 'Delete'],
  block: (who, channel) =>
    channel.kind === 'group'
      ? [`Block ${who} and leave “${channel.name}”? ${who} ${BLOCKED}`, 'Block and leave']
      : [`Block ${who} and delete this request? They ${BLOCKED}`, 'Block'],
};
const BLOCKED = 'can no longer write to you one to one or add you to groups.';

async function answer(action) {
  const c = client();
  const channel = c?.channels.get(ctx.current()?.channel);
  if (!channel || channel.request !== true) return;
  const question = QUESTIONS[action];
  if (question && !(await askConfirm(...question(name(c.requests.starter(channel)), channel)))) return;
  const requests = client()?.requests;
  if (!requests) return;
  const doing = { accept: () => requests.accept(channel.id), block: () => requests.block(channel.id), delete: () => requests.remove(channel.id) };
  // After a delete or a block the Requests view stays, for the next one.
  await doing[action]().catch((error) => ctx.toast(`${REFUSED[action]}: ${error.code ? error.message : 'not connected. Try again.'}`));
}

const REFUSED = { accept: 'Not accepted', delete: 'Not deleted', block: 'Not blocked' };
