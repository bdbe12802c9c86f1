// The page's side of search (docs/web.md, "Search"): the box above the chat list, the
// results in place of the chat list while it holds a query, and opening a result at its
// message. What is asked and which answer counts is search.js.
//
// A snippet is the sender's text: it goes in as text nodes, its matched words in <mark>
// elements made with DOM calls (h in dom.js), never as HTML.

import { $, h } from './dom.js';
import { describeSearchError } from './errors.js';
import { fullTime, listTime } from './format.js';
import { flashMessage } from './replies-ui.js';

const DEBOUNCE_MS = 250; // the pause in typing after which the box's text is searched
const FLASH_MS = 2500; // how long an opened result's message stays highlighted

let ctx = null; // {client(), current(), openChat(target), render(), toast(text)} from app.js
let timer = null; // the pause being waited for
let picked = null; // {channel, seq}: the result last opened, marked in the list

const client = () => ctx.client();
const search = () => client()?.search;

export function wireSearch(context) {
  ctx = context;
  const box = $('search-input');
  box.addEventListener('input', typed);
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeSearch();
    } else if (event.key === 'Enter') {
      // No need to wait for the pause.
      event.preventDefault();
      clearTimeout(timer);
      search()?.run();
    }
  });
  $('search-clear').addEventListener('click', () => {
    closeSearch();
    box.focus();
  });
  $('search-more').addEventListener('click', () => search()?.loadMore());
  $('search-retry').addEventListener('click', () => search()?.retry());
}

// The box changed: a new query is asked after a pause in typing; an empty box (or only
// spaces) shows the chat list again and asks nothing.
function typed() {
  if (!search()?.typed($('search-input').value)) {
    $('search-clear').hidden = $('search-input').value === '';
    return;
  }
  clearTimeout(timer);
  if (search().active) timer = setTimeout(() => search()?.run(), DEBOUNCE_MS);
  ctx.render();
}

// Esc in the box, or ×: the box empties and the chat list comes back.
export function closeSearch() {
  resetSearch();
  search()?.reset();
  ctx.render();
}

// A new session (app.js): an empty box, nothing waited for.
export function resetSearch() {
  clearTimeout(timer);
  $('search-input').value = '';
  picked = null;
}

// ---- Drawing -----------------------------------------------------------------------------------
export function renderSearch() {
  const s = search();
  const on = !!s?.active;
  $('search-clear').hidden = $('search-input').value === '';
  $('search-view').hidden = !on;
  $('sidebar-main').hidden = on;
  if (!on) {
    $('search-results').replaceChildren();
    return;
  }
  const hits = s.shown();
  const view = $('search-view');
  view.dataset.state = s.state;
  view.dataset.query = s.shownFor;
  view.setAttribute('aria-busy', String(s.state === 'searching'));
  $('search-results').replaceChildren(...hits.map(hitRow));
  const failed = s.state === 'failed';
  $('search-status').textContent = failed
    ? `Search failed: ${describeSearchError(s.error)}. Try again.`
    : s.state === 'searching' && (hits.length === 0 || s.shownFor !== s.query)
      ? 'Searching…'
      : s.state === 'done' && hits.length === 0 && !s.more
        ? 'No messages found'
        : '';
  $('search-status').classList.toggle('error', failed);
  $('search-retry').hidden = !failed;
  $('search-more').hidden = !(s.state === 'done' && s.more);
}

const nameOf = (user) => (user === client().me ? 'You' : (client().names.get(user) ?? `user ${user}`));

// The chat a hit is in, as the chat list names it: the group's name or the 1:1 peer's.
function chatName(channelId) {
  const c = client();
  const channel = c.channels.get(channelId);
  if (channel?.kind === 'group' && channel.name) return channel.name;
  if (channel?.kind === 'direct') {
    const peer = c.peerOf(channel);
    return c.names.get(peer) ?? `user ${peer}`;
  }
  return `chat ${channelId}`;
}

// The snippet's parts in order: matched words in <mark>, the rest as text.
function snippetNodes(parts) {
  return (parts ?? [])
    .filter((part) => part.text)
    .map((part) => (part.match ? h('mark', {}, String(part.text)) : String(part.text)));
}

function hitRow(hit) {
  const selected = picked?.channel === hit.channel && picked.seq === hit.seq && ctx.current()?.channel === hit.channel;
  const open = () => openHit(hit);
  return h(
    'li',
    {
      class: `clickable search-hit${selected ? ' selected' : ''}`,
      role: 'button',
      tabindex: '0',
      dataset: { testid: 'search-hit', channel: hit.channel, seq: hit.seq },
      onclick: open,
      onkeydown: (event) => {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        event.preventDefault();
        open();
      },
    },
    h(
      'div',
      { class: 'search-hit-head' },
      h('strong', { class: 'search-chat', dataset: { testid: 'search-chat' } }, chatName(hit.channel)),
      h('small', { class: 'time', title: fullTime(hit.serverTime), dataset: { testid: 'search-time' } }, listTime(hit.serverTime)),
    ),
    h(
      'div',
      { class: 'search-snippet', dir: 'auto', dataset: { testid: 'search-snippet' } },
      h('span', { class: 'search-sender', dataset: { testid: 'search-sender' } }, nameOf(hit.sender)),
      ': ',
      ...snippetNodes(hit.snippet),
    ),
  );
}

// ---- Opening a result --------------------------------------------------------------------------
// Opens the hit's chat, loads its history back to the message, scrolls to it and highlights
// it for a moment. The results stay, for the next one.
async function openHit(hit) {
  const c = client();
  if (!c.channels.has(hit.channel)) {
    // Not in the chat list yet (it is asked again): a moment later it is.
    c.refreshChannelsSoon();
    ctx.toast('That chat is not loaded yet. Try again in a moment.');
    return;
  }
  picked = { channel: hit.channel, seq: hit.seq };
  ctx.openChat({ channel: hit.channel });
  const held = await c.search.reach(hit.channel, hit.seq);
  if (client() !== c || c.viewing !== hit.channel) return; // another chat was opened meanwhile
  if (held) flashMessage(hit.channel, hit.seq, FLASH_MS);
  else ctx.toast('That message could not be loaded. Scroll up to find it.');
}
