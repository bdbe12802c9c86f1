// The page's side of muting (docs/web.md, "Muting"): the bell in the chat header with its
// menu and "Muted until 14:30" label, and the muted bell in the chat list. What is muted,
// and asking the node, is mutes.js.

import { $, h } from './dom.js';
import { HOUR_US } from './mutes.js';

const CHOICES = [
  { action: 'mute-1h', text: 'Mute for 1 hour', how: { forUs: HOUR_US } },
  { action: 'mute-8h', text: 'Mute for 8 hours', how: { forUs: 8n * HOUR_US } },
  { action: 'mute-1w', text: 'Mute for 1 week', how: { forUs: 7n * 24n * HOUR_US } },
  { action: 'mute-forever', text: 'Mute until I unmute', how: { forever: true } },
];

let ctx = null; // {client(), render(), toast(text)} from app.js
let open = false; // the menu is open
let busy = false; // a muteChannel is on its way

export function wireMute(context) {
  ctx = context;
  $('mute-toggle').addEventListener('click', (event) => {
    event.stopPropagation();
    open = !open;
    ctx.render();
    if (open) $('mute-menu').querySelector('[role=menuitem]')?.focus();
  });
  $('mute-menu').addEventListener('keydown', menuKeys);
  // A click anywhere else, or Esc, closes the menu.
  document.addEventListener('click', (event) => {
    if (open && !event.target.closest?.('#mute-menu')) closeMenu(false);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && open) {
      event.preventDefault();
      closeMenu(true);
    }
  });
}

function closeMenu(refocus) {
  open = false;
  ctx.render();
  if (refocus) $('mute-toggle').focus();
}

function menuKeys(event) {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  event.preventDefault();
  const items = [...$('mute-menu').querySelectorAll('[role=menuitem]')];
  const at = items.indexOf(document.activeElement);
  items[(at + (event.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
}

// ---- Drawing -----------------------------------------------------------------------------------
// "Muted" (until unmuted), "Muted until 14:30" (today) or "Muted until 12 Jun, 14:30"; ''
// when `mute` (mutes.js `of`) is null.
export function muteLabel(mute) {
  if (!mute) return '';
  if (mute.forever) return 'Muted';
  const end = new Date(Number(mute.until / 1000n));
  const time = end.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const today = end.toDateString() === new Date().toDateString();
  return `Muted until ${today ? time : `${end.toLocaleDateString([], { day: 'numeric', month: 'short' })}, ${time}`}`;
}

// The bell, drawn (no emoji font needed): `off` crosses it out.
export function bell(off) {
  const svg = (tag, attrs) => {
    const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
    return element;
  };
  const icon = svg('svg', {
    viewBox: '0 0 24 24',
    width: '16',
    height: '16',
    fill: 'none',
    stroke: 'currentColor',
    'stroke-width': '2',
    'stroke-linecap': 'round',
    'stroke-linejoin': 'round',
    'aria-hidden': 'true',
    class: 'bell',
  });
  icon.append(svg('path', { d: 'M18 16v-5a6 6 0 0 0-12 0v5l-2 2h16z' }), svg('path', { d: 'M10 21a2 2 0 0 0 4 0' }));
  if (off) icon.append(svg('path', { d: 'M3 3l18 18' }));
  return icon;
}

// The muted bell of a chat in the list, or null when it is not muted.
export function mutedIcon(client, channel) {
  const label = muteLabel(client.mutes.of(channel.id));
  if (!label) return null;
  return h('span', { class: 'muted-icon', title: label, 'aria-label': label, dataset: { testid: 'muted-icon' } }, bell(true));
}

// The header's bell, label and menu for the open chat's `channel` (null for a first message
// to a contact: there is nothing to mute yet; a chat we left cannot be muted either).
export function renderMute(channel) {
  const client = ctx.client();
  const usable = !!channel && channel.active !== false && channel.kind !== 'unknown';
  if (!usable) open = false;
  $('mute-toggle').hidden = !usable;
  $('mute-menu').hidden = !open;
  const mute = usable ? client.mutes.of(channel.id) : null;
  const label = muteLabel(mute);
  $('mute-label').textContent = label;
  $('mute-label').hidden = !label;
  if (!usable) return;
  const toggle = $('mute-toggle');
  toggle.replaceChildren(bell(!!mute));
  toggle.title = label || 'Mute this chat';
  toggle.setAttribute('aria-label', label ? `${label}: change` : 'Mute this chat');
  toggle.setAttribute('aria-expanded', String(open));
  toggle.dataset.muted = String(!!mute);
  if (!open) return;
  const focused = document.activeElement?.dataset?.action;
  const item = ({ action, text, how }) =>
    h(
      'button',
      { type: 'button', role: 'menuitem', disabled: busy, dataset: { testid: action, action }, onclick: () => choose(channel.id, how) },
      text,
    );
  const unmute = mute ? [item({ action: 'unmute', text: 'Unmute', how: {} })] : [];
  $('mute-menu').replaceChildren(...CHOICES.map(item), ...unmute);
  if (focused) $('mute-menu').querySelector(`[data-action="${focused}"]`)?.focus();
}

async function choose(channelId, how) {
  busy = true;
  open = false;
  ctx.render();
  $('mute-toggle').focus();
  try {
    await ctx.client().mutes.mute(channelId, how);
  } catch (error) {
    const what = how.forUs || how.forever ? 'Not muted' : 'Not unmuted';
    ctx.toast(`${what}: ${error.code ? error.message : 'not connected. Try again.'}`);
  } finally {
    busy = false;
    ctx.render();
  }
}
