// "Are you sure?" for actions that cannot be taken back (docs/web.md, "Confirming"):
// removing a contact or a member, leaving a group, logging out. A modal <dialog> in the
// page, not window.confirm: it looks like the rest of the page, the text is set as text,
// and it is testable. Esc or Cancel answers no; the focus starts on Cancel, so a stray
// Enter does nothing harmful. (Deleting a message has its own dialog in edits-ui.js, which
// quotes the message.)

import { $ } from './dom.js';

let answer = null; // resolves the question on screen

export function wireConfirm() {
  $('ask-ok').addEventListener('click', () => close(true));
  $('ask-cancel').addEventListener('click', () => close(false));
  $('ask-dialog').addEventListener('close', () => close(false)); // Esc
}

function close(yes) {
  const resolve = answer;
  answer = null;
  if ($('ask-dialog').open) $('ask-dialog').close();
  resolve?.(yes);
}

// Shows `text` with a button reading `action`; resolves true if the person confirms. A
// question still open is answered no first.
export function askConfirm(text, action) {
  close(false);
  $('ask-text').textContent = text;
  $('ask-ok').textContent = action;
  $('ask-dialog').showModal();
  $('ask-cancel').focus();
  return new Promise((resolve) => (answer = resolve));
}
