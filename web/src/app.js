// The page: log in / sign up, then the chat list, contacts and one open chat. All protocol
// work is in chat.js; this file only draws its state and forwards what the person does.
import { api, ApiError } from './api.js';
import { ChatClient } from './chat.js';
import { $, h } from './dom.js';
import { Edits } from './edits.js';
import {
  cancelEdit,
  editingNow,
  isEditing,
  keepFocus,
  leaveChat,
  messageActions,
  submitEdit,
  syncEditing,
  wireEdits,
} from './edits-ui.js';
import { describeError } from './errors.js';
import { mentionNodes, mentionsOf, suggestionKeys, wireMentions } from './mentions.js';
import { mutedIcon, renderMute, wireMute } from './mute-ui.js';
import { closeReaders, receiptMarks, renderReaders, renderSettings, wireReceipts } from './receipts-ui.js';
import {
  cancelReply,
  isFlashing,
  leaveReply,
  quoteBlock,
  startReply,
  syncReplying,
  takeReply,
  wireReplies,
} from './replies-ui.js';

const SESSION_KEY = 'parley.session';

function ago(ms) {
  if (!ms) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(ms).toLocaleDateString();
}

function clock(us) {
  return new Date(Number(us) / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

let client = null;
let current = null; // {channel} or {peer}: the open chat
let toastTimer = null;

function toast(text) {
  const element = $('toast');
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.hidden = true), 5000);
}

// ---- Log in / sign up ------------------------------------------------------------------
let authMode = 'login';

function showAuth(message = '') {
  $('app').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message;
  $('auth-name').focus();
}

function setAuthMode(mode) {
  authMode = mode;
  $('tab-login').classList.toggle('active', mode === 'login');
  $('tab-signup').classList.toggle('active', mode === 'signup');
  $('auth-submit').textContent = mode === 'login' ? 'Log in' : 'Sign up';
  $('auth-password').autocomplete = mode === 'login' ? 'current-password' : 'new-password';
  $('auth-error').textContent = '';
}

const AUTH_ERRORS = {
  unauthorized: 'Wrong name or password.',
  name_taken: 'That name is taken.',
  invalid_name: 'A name is 1–32 letters, digits, _ - or ., starting with a letter or digit.',
  weak_password: 'A password needs at least 8 characters.',
  too_many_devices: 'This account has too many devices logged in.',
};

async function submitAuth(event) {
  event.preventDefault();
  const name = $('auth-name').value.trim();
  const password = $('auth-password').value;
  $('auth-submit').disabled = true;
  try {
    if (authMode === 'signup') await api.signUp(name, password);
    const login = await api.logIn(name, password, 'web');
    const session = { name, user: String(login.user), device: String(login.device), token: login.token };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    $('auth-password').value = '';
    await startApp(session);
  } catch (error) {
    $('auth-error').textContent =
      error instanceof ApiError ? (AUTH_ERRORS[error.code] ?? error.message) : String(error);
  } finally {
    $('auth-submit').disabled = false;
  }
}

// ---- The app -----------------------------------------------------------------------------
async function startApp(session) {
  // Where to connect: this node, or in a cluster the best live gateway (docs/cluster.md);
  // the client asks again before every reconnect.
  let found;
  try {
    found = await api.discover();
  } catch {
    found = { websocket: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws` };
  }
  client = new ChatClient(session, sessionStorage, found.websocket, () => api.discover(), found.gateways ?? []);
  client.addEventListener('change', render);
  client.addEventListener('notice', (event) => toast(event.detail));
  client.addEventListener('sent', (event) => {
    if (current?.peer && current.peer === event.detail.peer) {
      current = { channel: event.detail.channel };
      client.open(current.channel);
    }
    render();
  });
  client.addEventListener('ended', (event) => endSession(event.detail));
  client.addEventListener('check-token', async () => {
    try {
      await api.profile(session.token);
    } catch (error) {
      if (error.code === 'unauthorized') endSession('unauthorized');
    }
  });
  $('auth').hidden = true;
  $('app').hidden = false;
  $('me').textContent = `Signed in as ${session.name}`;
  leaveChat();
  leaveReply();
  current = null;
  client.start();
  render();
}

const ENDINGS = {
  replaced: 'This device connected again in another window.',
  logged_out: 'You have logged out.',
  unauthorized: 'Your session has ended. Please log in again.',
};

function endSession(why) {
  client?.stop();
  client = null;
  if (why !== 'replaced') sessionStorage.removeItem(SESSION_KEY);
  showAuth(ENDINGS[why] ?? '');
}

async function logOut() {
  const session = client.session;
  await client.logout();
  client = null;
  await api.logOut(session.token).catch(() => {});
  sessionStorage.removeItem(SESSION_KEY);
  showAuth('');
}

function openChat(target) {
  leaveChat();
  leaveReply();
  closeReaders();
  current = target;
  client.open(target.channel ?? null);
  $('app').classList.add('show-chat');
  $('members-panel').hidden = true;
  render();
  $('composer-text').focus();
  scrollToBottom();
}

function openWith(peer) {
  const channel = client.directChannelWith(peer);
  openChat(channel ? { channel: channel.id } : { peer });
}

// ---- Drawing -------------------------------------------------------------------------------
const STATUS_TEXT = { connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline', online: 'Online' };

function render() {
  if (!client) return;
  $('status').textContent = STATUS_TEXT[client.status] ?? client.status;
  $('status').dataset.state = client.status;
  renderSettings();
  renderChats();
  renderContacts();
  renderChat();
}

function presenceOf(user) {
  return client.presence.get(user);
}

function presenceLine(user) {
  const presence = presenceOf(user);
  if (!presence) return '';
  return presence.online ? 'online' : `last active ${ago(presence.lastActiveAt)}`;
}

// "alice is typing…", "alice and bob are typing…", "3 people are typing…", or '' for nobody.
function typingLine(channelId) {
  const typists = client.typing.typists(channelId);
  const name = (user) => client.names.get(user) ?? `user ${user}`;
  if (typists.length === 0) return '';
  if (typists.length === 1) return `${name(typists[0])} is typing…`;
  if (typists.length === 2) return `${name(typists[0])} and ${name(typists[1])} are typing…`;
  return `${typists.length} people are typing…`;
}

function renderChats() {
  const list = $('chats');
  const channels = [...client.channels.values()].filter((c) => c.kind !== 'unknown');
  channels.sort((a, b) => Number(b.lastSeq ?? 0) - Number(a.lastSeq ?? 0) || Number(b.id) - Number(a.id));
  list.replaceChildren(
    ...channels.map((channel) => {
      const unread = client.unread.get(channel.id) ?? 0;
      const muted = client.mutes.muted(channel.id); // still counted, in a grey badge
      const last = client.edits.last(channel); // an edit or a delete is not a message of its own
      const peer = channel.kind === 'direct' ? client.peerOf(channel) : null;
      // A chat that is not open says who types in it in place of its last message.
      const typing = current?.channel !== channel.id && client.typing.typists(channel.id).length > 0;
      const gone = channel.active && last?.deleted === true;
      const preview = !channel.active ? 'you left' : gone ? 'message deleted' : last?.kind === 'text' ? last.text.slice(0, 60) : '';
      return h(
        'li',
        {
          class: `clickable${current?.channel === channel.id ? ' selected' : ''}`,
          dataset: { channel: channel.id, testid: 'chat-item', muted: String(muted) },
          onclick: () => openChat({ channel: channel.id }),
        },
        peer ? h('span', { class: `dot${presenceOf(peer)?.online ? ' online' : ''}` }) : h('span', { class: 'dot group' }),
        h(
          'span',
          { class: 'name' },
          client.title(channel),
          typing
            ? h(
                'small',
                { class: 'typing', dataset: { testid: 'chat-typing' } },
                peer ? 'typing…' : typingLine(channel.id),
              )
            : h('small', { class: gone ? 'deleted' : null, dataset: { testid: 'chat-preview' } }, preview),
        ),
        mutedIcon(client, channel),
        unread ? h('span', { class: `badge${muted ? ' muted' : ''}`, dataset: { testid: 'unread' } }, String(unread)) : null,
      );
    }),
  );
  // Muted chats draw no attention: they are left out of the total and the tab's title.
  const total = [...client.unread].reduce((sum, [id, count]) => (client.mutes.muted(id) ? sum : sum + count), 0);
  $('unread-total').hidden = total === 0;
  $('unread-total').textContent = String(total);
  document.title = total ? `(${total}) parley` : 'parley';
}

function renderContacts() {
  const list = $('contacts');
  list.replaceChildren(
    ...client.contacts.map((contact) => {
      const presence = presenceOf(contact.user);
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
          dataset: { user: contact.user, name: contact.name, testid: 'contact', online: String(!!presence?.online) },
          onclick: blocked ? undefined : () => openWith(contact.user),
        },
        h('span', { class: `dot${presence?.online ? ' online' : ''}`, title: presence?.online ? 'online' : 'offline' }),
        h('span', { class: 'name' }, contact.name, h('small', { class: 'presence' }, detail)),
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            title: `Remove ${contact.name}`,
            onclick: (event) => {
              event.stopPropagation();
              client.changeContact(contact.user, blocked ? 'unblock' : 'remove').catch((e) => toast(e.message));
            },
          },
          blocked ? 'Unblock' : 'Remove',
        ),
      );
    }),
  );
}

function renderChat() {
  const channel = current?.channel ? client.channels.get(current.channel) : null;
  $('chat-empty').hidden = !!current;
  $('chat-view').hidden = !current;
  if (!current) return;
  const peer = channel ? (channel.kind === 'direct' ? client.peerOf(channel) : null) : current.peer;
  $('chat-title').textContent = channel ? client.title(channel) : (client.names.get(peer) ?? 'chat');
  if (peer) {
    $('chat-subtitle').textContent = presenceLine(peer);
  } else if (channel) {
    $('chat-subtitle').textContent = channel.active
      ? `${channel.members.length} members`
      : 'You are no longer a member';
  }
  const isGroup = channel?.kind === 'group';
  $('members-toggle').hidden = !isGroup || !channel.active;
  if (isGroup) renderMembers(channel);
  syncEditing(channel);
  syncReplying(channel);
  renderMute(channel);
  renderMessages(channel, peer);
  renderReaders(channel);
  $('typing').textContent = channel ? typingLine(channel.id) : '';
  $('composer-text').disabled = channel ? !channel.active : false;
}

function renderMembers(channel) {
  const admin = channel.admin === client.me;
  $('members').replaceChildren(
    ...channel.members.map((user) =>
      h(
        'li',
        { dataset: { user, testid: 'member' } },
        h('span', { class: 'name' }, client.names.get(user) ?? `user ${user}`, user === channel.admin ? h('small', {}, 'admin') : null),
        admin && user !== client.me
          ? h(
              'button',
              { type: 'button', class: 'link', onclick: () => client.changeGroup('removeMember', { channel: channel.id, user }).catch((e) => toast(e.message)) },
              'Remove',
            )
          : null,
      ),
    ),
  );
  $('member-form').hidden = !admin;
  const candidates = client.contacts.filter((c) => c.state === 'contact' && !channel.members.includes(c.user));
  $('member-add').replaceChildren(...candidates.map((c) => h('option', { value: c.user }, c.name)));
}

// `name` gives "You" for the reader, `object` gives "you".
const EVENT_TEXT = {
  group_created: (m, name) => `${name(m.sender)} created the group “${m.text}”`,
  member_added: (m, name, object) => `${name(m.sender)} added ${m.users.map(object).join(', ')}`,
  member_removed: (m, name, object) => `${name(m.sender)} removed ${m.users.map(object).join(', ')}`,
  member_left: (m, name) => `${name(m.users[0] ?? m.sender)} left`,
  admin_changed: (m, name) => `${name(m.users[0])} ${m.users[0] === client.me ? 'are' : 'is'} now the admin`,
};

function renderMessages(channel, peer) {
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const heightBefore = box.scrollHeight;
  const name = (user) => (user === client.me ? 'You' : (client.names.get(user) ?? `user ${user}`));
  const object = (user) => (user === client.me ? 'you' : name(user));
  const group = channel?.kind === 'group';
  const items = (channel ? client.edits.shown(channel) : []).map((message) => {
    if (message.kind !== 'text') {
      return h('li', { class: 'event', dataset: { seq: message.seq } }, EVENT_TEXT[message.kind]?.(message, name, object) ?? message.kind);
    }
    const mine = message.sender === client.me;
    // A message deleted for everyone is a tombstone: no text, no ticks, no actions.
    const deleted = message.deleted === true;
    const edited = Edits.edited(message);
    const dataset = { seq: message.seq, testid: 'message' };
    if (edited) dataset.edited = 'true';
    if (deleted) dataset.deleted = 'true';
    const mentioned = group && mentionsOf(message, client.me); // mentions.js
    if (mentioned) dataset.mentioned = 'true';
    if (isFlashing(channel.id, message.seq)) dataset.highlighted = 'true'; // a quote of it was clicked
    const editing = isEditing(channel.id, message.seq);
    const text = deleted
      ? ['This message was deleted']
      : group
        ? mentionNodes(message.text, message.mentions, client.names, client.me)
        : [message.text];
    const classes = `${mine ? ' mine' : ''}${deleted ? ' deleted' : ''}${editing ? ' editing' : ''}${mentioned ? ' mentioned' : ''}`;
    return h(
      'li',
      { class: `message${classes}`, dataset },
      group && !mine ? h('span', { class: 'sender' }, name(message.sender)) : null,
      deleted ? null : quoteBlock(channel, message), // replies-ui.js
      h('span', { class: 'text' }, ...text),
      h(
        'span',
        { class: 'meta' },
        edited ? h('span', { class: 'edited', dataset: { testid: 'edited' } }, 'edited') : null,
        clock(message.serverTime),
        ...(mine && !deleted ? receiptMarks(channel, message.seq) : []),
      ),
      ...(deleted ? [] : messageActions(channel, message)),
    );
  });
  const held = new Set(channel ? [...channel.messages.values()].map((m) => m.clientMsgId) : []);
  for (const item of client.outbox.outgoing(channel?.id, peer)) {
    if (held.has(item.clientMsgId)) continue;
    // Stored (acked) but not yet delivered back to this device: ✓ already.
    const stored = !item.error && item.seq && client.channels.get(item.channel);
    items.push(
      h(
        'li',
        { class: `message mine ${item.error ? 'failed' : stored ? '' : 'pending'}`, dataset: { testid: item.error ? 'failed' : 'pending' } },
        channel ? quoteBlock(channel, item) : null,
        h('span', { class: 'text' }, item.text.length > 2000 ? `${item.text.slice(0, 2000)}…` : item.text),
        h(
          'span',
          { class: 'meta' },
          item.error ? `Not sent: ${item.error} ` : stored ? clock(item.sentAt * 1000) : 'sending…',
          item.error ? h('button', { type: 'button', class: 'link', onclick: () => client.outbox.dismiss(item.clientMsgId) }, 'Dismiss') : null,
          ...(stored ? receiptMarks(stored, item.seq) : []),
        ),
      ),
    );
  }
  keepFocus($('message-list'), () => $('message-list').replaceChildren(...items));
  $('load-older').hidden = !channel || !channel.loaded || !channel.hasMore;
  if (atBottom) scrollToBottom();
  else if (box.scrollTop < 40) box.scrollTop += box.scrollHeight - heightBefore; // older page prepended
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

// ---- What the person does ----------------------------------------------------------------------
function sendMessage(event) {
  event.preventDefault();
  if (submitEdit()) return; // editing a message: Enter saves it (edits-ui.js)
  const text = $('composer-text').value;
  if (!text.trim() || !current) return;
  const replyTo = current.channel ? takeReply(current.channel) : '0'; // the reply bar goes
  client.outbox.send(current.channel ? { channel: current.channel } : { peer: current.peer }, text, replyTo);
  $('composer-text').value = ''; // no input event, and no stop: the node ends typing at the message
  scrollToBottom();
}

async function addContact(event) {
  event.preventDefault();
  const name = $('contact-name').value.trim();
  try {
    await api.changeContact(client.session.token, name, 'add');
    $('contact-name').value = '';
    await client.refreshContacts();
  } catch (error) {
    toast(error.code === 'unknown_user' ? `There is no user named “${name}”.` : describeError(error.code, error.message));
  }
}

function showGroupForm() {
  const friends = client.contacts.filter((c) => c.state === 'contact');
  $('group-members').replaceChildren(
    h('legend', {}, 'Members'),
    ...friends.map((c) => h('label', {}, h('input', { type: 'checkbox', value: c.user }), ` ${c.name}`)),
  );
  $('group-form').hidden = false;
  $('group-name').focus();
}

async function createGroup(event) {
  event.preventDefault();
  const members = [...$('group-members').querySelectorAll('input:checked')].map((input) => input.value);
  try {
    const channel = await client.createGroup($('group-name').value.trim(), members);
    $('group-form').hidden = true;
    $('group-name').value = '';
    openChat({ channel });
  } catch (error) {
    toast(error.message);
  }
}

async function addMember(event) {
  event.preventDefault();
  const user = $('member-add').value;
  if (!user || !current?.channel) return;
  await client.changeGroup('addMember', { channel: current.channel, user }).catch((error) => toast(error.message));
}

async function leaveGroup() {
  if (!current?.channel) return;
  await client.changeGroup('leaveGroup', { channel: current.channel }).catch((error) => toast(error.message));
  $('members-panel').hidden = true;
}

function wire() {
  $('tab-login').addEventListener('click', () => setAuthMode('login'));
  $('tab-signup').addEventListener('click', () => setAuthMode('signup'));
  $('auth-form').addEventListener('submit', submitAuth);
  $('logout').addEventListener('click', logOut);
  $('settings-toggle').addEventListener('click', () => ($('settings-panel').hidden = !$('settings-panel').hidden));
  wireReceipts({ client: () => client, render, toast });
  $('composer').addEventListener('submit', sendMessage);
  $('composer-text').addEventListener('keydown', (event) => {
    if (suggestionKeys(event)) return; // the @name list took the key (mentions.js)
    if (event.key === 'Escape' && (cancelEdit() || cancelReply())) event.preventDefault();
    if (event.key === 'Enter' && !event.shiftKey) sendMessage(event);
  });
  $('composer-text').addEventListener('input', () => {
    // An edit is not typing: the others see no indicator for it.
    if (client && current?.channel && !editingNow()) client.typing.composing(current.channel, $('composer-text').value);
  });
  wireEdits({ client: () => client, render, toast, reply: startReply, cancelReply });
  wireReplies({ client: () => client, render, toast });
  wireMute({ client: () => client, render, toast });
  wireMentions({ client: () => client, channel: () => (client && current?.channel ? client.channels.get(current.channel) : null) });
  $('contact-form').addEventListener('submit', addContact);
  $('new-group').addEventListener('click', showGroupForm);
  $('group-cancel').addEventListener('click', () => ($('group-form').hidden = true));
  $('group-form').addEventListener('submit', createGroup);
  $('members-toggle').addEventListener('click', () => ($('members-panel').hidden = !$('members-panel').hidden));
  $('member-form').addEventListener('submit', addMember);
  $('leave-group').addEventListener('click', leaveGroup);
  $('back').addEventListener('click', () => {
    leaveChat();
    leaveReply();
    closeReaders();
    current = null;
    client.open(null);
    $('app').classList.remove('show-chat');
  });
  $('load-older').addEventListener('click', () => current?.channel && client.loadOlder(current.channel));
  $('messages').addEventListener('scroll', () => {
    if ($('messages').scrollTop === 0 && current?.channel) client.loadOlder(current.channel);
  });
  // "last active" times age while nobody sends anything.
  setInterval(() => client && render(), 15_000);
}

wire();
const saved = sessionStorage.getItem(SESSION_KEY);
if (saved) startApp(JSON.parse(saved));
else showAuth();
