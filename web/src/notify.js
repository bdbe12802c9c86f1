// Desktop notifications (docs/web.md, "Notifications"), through the browser's Notification
// API, for the tab that holds the connection.
//
//  - Off until the person turns them on with the Settings checkbox: the browser's permission
//    prompt only ever follows that click (browsers ignore or penalise prompts nobody asked
//    for). The choice is kept in localStorage, per browser.
//  - A notification is shown for a message that adds to an unread count (ChatClient's
//    `unread-message`: a text from someone else, not on screen) while the page is hidden,
//    and not for a muted chat unless the message mentions you. A visible page shows the
//    message itself. A message request (requests.js) never notifies, mention or not: it
//    never counts either, and is checked here again because a notification cannot be undone.
//  - One notification per chat (its `tag`): a newer one replaces the older.
//  - Clicking it brings this tab to the front and opens the chat.

import { $ } from './dom.js';

const SETTING_KEY = 'parley.notifications';
const BODY_CHARS = 120;

let ctx = null; // {client(), openChat(target)} from app.js

const supported = () => typeof Notification === 'function';
const wanted = () => localStorage.getItem(SETTING_KEY) === 'on';
const allowed = () => supported() && Notification.permission === 'granted';

export function wireNotifications(context) {
  ctx = context;
  $('notifications').addEventListener('change', toggle);
}

// The checkbox shows what will happen: on only when wanted and allowed.
export function renderNotifications() {
  const box = $('notifications');
  box.disabled = !supported();
  box.checked = wanted() && allowed();
  const denied = supported() && Notification.permission === 'denied';
  $('notifications-note').textContent = !supported()
    ? 'This browser cannot show notifications.'
    : denied
      ? 'Notifications are blocked for this site. Allow them in the browser’s site settings.'
      : 'While this tab is hidden, new messages show as desktop notifications.';
}

async function toggle() {
  const box = $('notifications');
  if (!box.checked) {
    localStorage.setItem(SETTING_KEY, 'off');
    return renderNotifications();
  }
  // The click is the person's gesture the permission prompt needs.
  if (Notification.permission === 'default') {
    try {
      await Notification.requestPermission();
    } catch {
      /* treated as not granted */
    }
  }
  localStorage.setItem(SETTING_KEY, allowed() ? 'on' : 'off');
  renderNotifications();
}

// ChatClient's `unread-message`: a text from someone else that is not on screen.
export function onUnreadMessage(message) {
  const client = ctx.client();
  if (!client || !wanted() || !allowed() || document.visibilityState !== 'hidden') return;
  if (client.requests.isRequest(message.channel)) return;
  const mentioned = (message.mentions ?? []).includes(client.me);
  if (client.mutes.muted(message.channel) && !mentioned) return;
  const channel = client.channels.get(message.channel);
  const sender = client.names.get(message.sender) ?? `user ${message.sender}`;
  const title = channel?.kind === 'group' ? `${sender} in ${channel.name}` : sender;
  const text = [...message.text];
  const body = text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS).join('')}…` : text.join('');
  let notification;
  try {
    notification = new Notification(title, { body, tag: `parley-${message.channel}` });
  } catch (error) {
    console.warn('parley: no notification', error); // e.g. a browser that wants a service worker
    return;
  }
  notification.onclick = () => {
    window.focus();
    ctx.openChat({ channel: message.channel });
    notification.close();
  };
}
