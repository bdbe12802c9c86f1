// The page's side of editing and deleting (docs/web.md, "Editing and deleting"): the ⋯
// button on a message and its menu (which also offers Reply, replies-ui.js), editing in the composer under an "Editing message — Esc
// to cancel" bar, and the "Delete for everyone?" dialog. The protocol side, and who may do
// what, is edits.js; app.js draws the bubbles and calls in here.

import { $, h } from './dom.js';

// Refusals after which editing on is pointless; after the others (too long, not connected,
// busy) the text stays in the composer to be fixed or tried again.
const KEEP_EDITING = new Set(['message_too_long', 'message_empty', 'invalid_utf8', 'overloaded', 'rate_limited']);

let ctx = null; // {client(), render(), toast(text), reply(channel, message), cancelReply()} from app.js
let menuFor = null; // {channel, seq}: the message whose menu is open
let editing = null; // {channel, seq, draft}: the message being edited, and the composer's text before
let saving = false; // the editMessage is on its way
let deleting = null; // {channel, seq}: the message the dialog asks about

const client = () => ctx.client();
const same = (at, channelId, seq) => at?.channel === channelId && at.seq === seq;

export function wireEdits(context) {
  ctx = context;
  $('edit-cancel').addEventListener('click', () => endEdit(true));
  $('confirm-delete').addEventListener('click', confirmDelete);
  $('confirm-cancel').addEventListener('click', () => $('confirm-dialog').close());
  $('confirm-dialog').addEventListener('close', () => {
    const asked = deleting;
    deleting = null;
    $('confirm-quote').textContent = ''; // no copy of the text stays behind
    if (asked) focusAction(asked.seq, 'toggle');
  });
  // A click anywhere else, or Esc, closes an open menu.
  document.addEventListener('click', (event) => {
    if (menuFor && !event.target.closest?.('[data-testid=actions-menu]')) closeMenu(false);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menuFor) {
      event.preventDefault();
      closeMenu(true);
    }
  });
}

// ---- The ⋯ menu ------------------------------------------------------------------------------
// Anyone's text message can be replied to while it is not deleted and we are in the chat.
const canReply = (channel, message) => message.kind === 'text' && message.deleted !== true && channel.active !== false;

// The actions on text message `message` of `channel` for its bubble: the ⋯ button, and the
// menu under it while open; nothing when this person may do nothing with it.
export function messageActions(channel, message) {
  const edits = client().edits;
  const reply = canReply(channel, message);
  const canEdit = edits.canEdit(channel, message);
  const canDelete = edits.canDelete(channel, message);
  if (!reply && !canEdit && !canDelete) return [];
  const open = same(menuFor, channel.id, message.seq);
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'actions-toggle',
      title: 'Message actions',
      'aria-label': 'Message actions',
      'aria-haspopup': 'menu',
      'aria-expanded': String(open),
      dataset: { testid: 'message-actions', action: 'toggle' },
      onclick: (event) => {
        event.stopPropagation();
        if (open) return closeMenu(true);
        menuFor = { channel: channel.id, seq: message.seq };
        ctx.render();
        focusAction(message.seq, reply ? 'reply' : canEdit ? 'edit' : 'delete');
      },
    },
    '⋯',
  );
  if (!open) return [toggle];
  const item = (action, text, onclick) =>
    h('button', { type: 'button', role: 'menuitem', class: action, dataset: { testid: `${action}-message`, action }, onclick }, text);
  const menu = h(
    'div',
    { role: 'menu', class: 'actions-menu', 'aria-label': 'Message actions', dataset: { testid: 'actions-menu' }, onkeydown: menuKeys },
    reply ? item('reply', 'Reply', () => startReply(channel, message)) : null,
    canEdit ? item('edit', 'Edit', () => startEdit(channel, message)) : null,
    canDelete ? item('delete', 'Delete for everyone', () => askDelete(channel, message)) : null,
  );
  return [toggle, menu];
}

// Up and down move between the menu's items.
function menuKeys(event) {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  event.preventDefault();
  const items = [...event.currentTarget.querySelectorAll('[role=menuitem]')];
  const at = items.indexOf(document.activeElement);
  items[(at + (event.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
}

function closeMenu(refocus) {
  const was = menuFor;
  menuFor = null;
  ctx.render();
  if (refocus && was) focusAction(was.seq, 'toggle');
}

function focusAction(seq, action) {
  document.querySelector(`#message-list li[data-seq="${seq}"] [data-action="${action}"]`)?.focus();
}

// Redraws the message list with `draw`, keeping the focus on the same control of the same
// message (the list is drawn anew at every change).
export function keepFocus(list, draw) {
  const active = document.activeElement;
  const action = list.contains(active) ? active.dataset?.action : undefined;
  const seq = action && active.closest('li')?.dataset.seq;
  draw();
  if (seq) focusAction(seq, action);
}

function startReply(channel, message) {
  menuFor = null;
  ctx.reply(channel, message);
}

// ---- Editing in the composer -----------------------------------------------------------------
export const isEditing = (channelId, seq) => same(editing, channelId, seq);
export const editingNow = () => editing !== null;

function startEdit(channel, message) {
  const text = $('composer-text');
  menuFor = null;
  ctx.cancelReply(); // editing and replying exclude each other
  const draft = editing ? editing.draft : text.value;
  client().typing.composing(channel.id, ''); // an edit is not typing: a start out is taken back
  editing = { channel: channel.id, seq: message.seq, draft };
  saving = false;
  text.value = message.text;
  ctx.render();
  text.focus();
  text.setSelectionRange(text.value.length, text.value.length);
}

// Leaves editing; the composer gets back what was written in it before.
function endEdit(refocus = false) {
  if (!editing) return;
  $('composer-text').value = editing.draft;
  editing = null;
  saving = false;
  ctx.render();
  if (refocus) $('composer-text').focus();
}

// Enter in the composer: true if it saved (or refused to save) an edit rather than sending.
export function submitEdit() {
  if (!editing) return false;
  if (saving) return true;
  const { channel, seq } = editing;
  const text = $('composer-text').value;
  const message = client().channels.get(channel)?.messages.get(seq);
  if (!text.trim()) {
    ctx.toast('A message cannot be empty. To take it back, use “Delete for everyone”.');
    return true;
  }
  if (message && text === message.text) {
    endEdit(true); // nothing changed: nothing to send
    return true;
  }
  saving = true;
  ctx.render();
  client()
    .edits.edit(channel, seq, text)
    .then(
      () => {
        if (isEditing(channel, seq)) endEdit(true);
      },
      (error) => {
        if (!isEditing(channel, seq)) return;
        ctx.toast(`Not edited: ${error.code ? error.message : 'not connected. Try again.'}`);
        saving = false;
        if (error.code && !KEEP_EDITING.has(error.code)) endEdit(true);
        else ctx.render();
      },
    );
  return true;
}

// Esc in the composer: true if it ended an edit.
export function cancelEdit() {
  if (!editing) return false;
  endEdit(true);
  return true;
}

// Opening another chat (or none) ends an edit and closes a menu.
export function leaveChat() {
  menuFor = null;
  if ($('confirm-dialog').open) $('confirm-dialog').close();
  if (editing) endEdit();
}

// Before the open chat `channel` is drawn: an edit whose message was deleted meanwhile (on
// another device, or by the group's admin) ends; the bar and the Send button follow.
export function syncEditing(channel) {
  const message = editing && channel?.id === editing.channel ? channel.messages.get(editing.seq) : null;
  if (editing && (!message || message.deleted === true)) {
    if (message) ctx.toast('The message you were editing was deleted.');
    $('composer-text').value = editing.draft;
    editing = null;
    saving = false;
  }
  if (deleting && channel?.messages.get(deleting.seq)?.deleted === true) $('confirm-dialog').close();
  $('edit-bar').hidden = !editing;
  $('composer-send').textContent = editing ? 'Save' : 'Send';
  $('composer-text').readOnly = saving;
}

// ---- Deleting --------------------------------------------------------------------------------
function askDelete(channel, message) {
  menuFor = null;
  deleting = { channel: channel.id, seq: message.seq };
  const theirs = message.sender !== client().me;
  $('confirm-text').textContent = theirs
    ? 'Delete this message for everyone in the group? As the admin you can delete anyone’s message.'
    : 'Delete this message for everyone? They will see “This message was deleted”.';
  $('confirm-quote').textContent = message.text.length > 120 ? `${message.text.slice(0, 120)}…` : message.text;
  ctx.render();
  $('confirm-dialog').showModal();
  $('confirm-cancel').focus();
}

async function confirmDelete() {
  const asked = deleting;
  deleting = null;
  $('confirm-quote').textContent = '';
  $('confirm-dialog').close();
  if (!asked) return;
  try {
    await client().edits.remove(asked.channel, asked.seq);
  } catch (error) {
    ctx.toast(`Not deleted: ${error.code ? error.message : 'not connected. Try again.'}`);
  }
}
