// The page: log in / sign up, then the chat list, contacts and one open chat. All protocol
// work is in chat.js; this file draws its state, with the *-ui.js modules, and forwards what
// the person does.
import { api, ApiError } from './api.js';
import { ChatClient } from './chat.js';
import { askConfirm, wireConfirm } from './confirm-ui.js';
import { $, h } from './dom.js';
import { cancelEdit, editingNow, leaveChat, submitEdit, syncEditing, wireEdits } from './edits-ui.js';
import { describeError } from './errors.js';
import { plural } from './format.js';
import { departure, presenceLine, renderChats, renderContacts, typingLine, wireLists } from './lists-ui.js';
import { suggestionKeys, wireMentions } from './mentions.js';
import { onScroll, renderMessages, scrollToBottom, wireMessages } from './messages-ui.js';
import { renderMute, wireMute } from './mute-ui.js';
import { onUnreadMessage, renderNotifications, wireNotifications } from './notify.js';
import { closeReaders, renderReaders, renderSettings, wireReceipts } from './receipts-ui.js';
import { cancelReply, leaveReply, startReply, syncReplying, takeReply, wireReplies } from './replies-ui.js';
import { renderRequestBanner, renderRequests, wireRequests } from './requests-ui.js';
import { renderSearch, resetSearch, wireSearch } from './search-ui.js';
import { claimConnection, forgetSession, savedSession, saveSession, watchTabs } from './tabs.js';

let client = null;
let current = null; // {channel} or {peer}: the open chat
let starting = 0; // counts startApp calls: a start overtaken by another (or by stepping aside) gives up
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

// One of the three screens: 'auth' (log in), 'app', or 'elsewhere' (another tab is in use).
function showScreen(screen) {
  $('auth').hidden = screen !== 'auth';
  $('app').hidden = screen !== 'app';
  $('elsewhere').hidden = screen !== 'elsewhere';
}

function showAuth(message = '') {
  showScreen('auth');
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
    saveSession(session); // every tab of this browser is logged in now (tabs.js)
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
  const attempt = ++starting;
  claimConnection(); // the other tabs of this browser step aside: one connection per device
  // Where to connect: this node, or in a cluster the best live gateway (docs/cluster.md);
  // the client asks again before every reconnect.
  let found;
  try {
    found = await api.discover();
  } catch {
    found = { websocket: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws` };
  }
  if (attempt !== starting) return;
  client?.stop();
  client = new ChatClient(session, localStorage, found.websocket, () => api.discover(), found.gateways ?? []);
  client.addEventListener('change', render);
  client.addEventListener('notice', (event) => toast(event.detail));
  client.addEventListener('unread-message', (event) => onUnreadMessage(event.detail));
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
  showScreen('app');
  $('me').textContent = `Signed in as ${session.name}`;
  leaveChat();
  leaveReply();
  resetSearch();
  current = null;
  $('app').classList.remove('show-chat');
  render();
  await client.start();
}

const ENDINGS = {
  logged_out: 'You have logged out.',
  unauthorized: 'Your session has ended. Please log in again.',
};

// The connection ended for good. `replaced`: another tab of this browser connected with the
// same device (tabs.js), so this one steps aside; else the session is over for every tab.
function endSession(why) {
  if (why === 'replaced') return stepAside();
  client?.stop();
  client = null;
  forgetSession();
  showAuth(ENDINGS[why] ?? '');
}

// Another tab took the connection: this one waits, with "Use here" to take it back.
function stepAside() {
  starting += 1;
  client?.stop();
  client = null;
  $('confirm-dialog').close();
  $('ask-dialog').close();
  showScreen('elsewhere');
}

// Another tab logged in (a session) or out (null).
function sessionChanged(session) {
  if (session) return stepAside(); // it also took the connection
  starting += 1;
  client?.stop();
  client = null;
  showAuth('You logged out in another tab.');
}

async function logOut() {
  const unsent = client.outbox.unsent();
  const lost = unsent ? ` ${plural(unsent, 'message')} not sent yet will be lost.` : '';
  if (!(await askConfirm(`Log out of parley in this browser?${lost}`, 'Log out'))) return;
  if (!client) return;
  const session = client.session;
  starting += 1;
  await client.logout();
  client = null;
  await api.logOut(session.token).catch(() => {});
  forgetSession(); // the other tabs follow (tabs.js)
  showAuth('');
}

function openChat(target) {
  if (!client) return;
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

// Back to no chat open (the Back button, or the open chat went away).
function closeChat() {
  leaveChat();
  leaveReply();
  closeReaders();
  current = null;
  client?.open(null);
  $('app').classList.remove('show-chat');
}

function openWith(peer) {
  const channel = client.directChannelWith(peer);
  openChat(channel ? { channel: channel.id } : { peer });
}

// ---- Drawing -------------------------------------------------------------------------------
const STATUS_TEXT = { connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline', online: 'Online' };

function render() {
  if (!client) return;
  adoptChannel();
  if (current?.channel && !client.channels.has(current.channel)) return closeChat(); // a deleted request: draws again
  $('status').textContent = STATUS_TEXT[client.status] ?? client.status;
  $('status').dataset.state = client.status;
  renderSettings();
  renderNotifications();
  renderChats();
  renderRequests();
  renderSearch(); // while the box holds a query, its results stand in for the chat list
  renderContacts();
  renderChat();
}

// A chat opened with a contact before its 1:1 channel was known (the first message from
// them was on its way) becomes that channel's chat once it is, so their messages show.
function adoptChannel() {
  const channel = current?.peer && client.directChannelWith(current.peer);
  if (!channel) return;
  current = { channel: channel.id };
  client.open(channel.id); // changes, and so draws again
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
    $('chat-subtitle').textContent = channel.active ? plural(channel.members.length, 'member') : gone(channel, 'You are no longer a member');
  }
  const isGroup = channel?.kind === 'group';
  $('members-toggle').hidden = !isGroup || !channel.active;
  if (isGroup) renderMembers(channel);
  syncEditing(channel);
  syncReplying(channel);
  renderMute(channel);
  renderRequestBanner(channel);
  renderMessages(channel, peer);
  renderReaders(channel);
  $('typing').textContent = channel ? typingLine(channel.id) : '';
  renderComposer(channel);
}

// "<prefix>: alice removed you" / "<prefix>: you left", or the prefix alone when the event is
// not held.
function gone(channel, prefix) {
  const { left, by } = departure(channel);
  if (left) return `${prefix}: you left.`;
  return by ? `${prefix}: ${client.names.get(by) ?? `user ${by}`} removed you.` : `${prefix}.`;
}

// A group we are out of cannot be written to: the composer says why, and looks it.
function renderComposer(channel) {
  const closed = channel ? !channel.active : false;
  $('composer-text').disabled = closed;
  $('composer-send').disabled = closed;
  $('composer-text').placeholder = closed ? gone(channel, 'You can’t write here') : 'Write a message';
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
          ? h('button', { type: 'button', class: 'link', onclick: () => removeMember(channel, user) }, 'Remove')
          : null,
      ),
    ),
  );
  $('member-form').hidden = !admin;
  const candidates = client.contacts.filter((c) => c.state === 'contact' && !channel.members.includes(c.user));
  $('member-add').replaceChildren(...candidates.map((c) => h('option', { value: c.user }, c.name)));
}

// ---- What the person does ----------------------------------------------------------------------
function sendMessage(event) {
  event.preventDefault();
  if (submitEdit()) return; // editing a message: Enter saves it (edits-ui.js)
  const text = $('composer-text').value;
  if (!text.trim() || !current || $('composer-text').disabled) return;
  const replyTo = current.channel ? takeReply(current.channel) : '0'; // the reply bar goes
  client.outbox.send(current.channel ? { channel: current.channel } : { peer: current.peer }, text, replyTo);
  $('composer-text').value = ''; // no input event, and no stop: the node ends typing at the message
  scrollToBottom();
}

async function addContact(event) {
  event.preventDefault();
  const name = $('contact-name').value.trim();
  // The node refuses it with a bare bad_request: say what is wrong instead.
  if (name.toLowerCase() === client.session.name.toLowerCase()) {
    toast('That’s you. Add someone else by their user name.');
    return;
  }
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

async function removeMember(channel, user) {
  const name = client.names.get(user) ?? `user ${user}`;
  if (!(await askConfirm(`Remove ${name} from “${channel.name}”? They keep what they saw until now.`, 'Remove'))) return;
  await client?.changeGroup('removeMember', { channel: channel.id, user }).catch((error) => toast(error.message));
}

async function leaveGroup() {
  const channel = current?.channel && client.channels.get(current.channel);
  if (!channel) return;
  if (!(await askConfirm(`Leave “${channel.name}”? You can only come back if the admin adds you.`, 'Leave group'))) return;
  await client?.changeGroup('leaveGroup', { channel: channel.id }).catch((error) => toast(error.message));
  $('members-panel').hidden = true;
}

function wire() {
  $('tab-login').addEventListener('click', () => setAuthMode('login'));
  $('tab-signup').addEventListener('click', () => setAuthMode('signup'));
  $('auth-form').addEventListener('submit', submitAuth);
  $('logout').addEventListener('click', logOut);
  $('use-here').addEventListener('click', () => {
    const session = savedSession();
    if (session) startApp(session);
    else showAuth();
  });
  $('settings-toggle').addEventListener('click', () => ($('settings-panel').hidden = !$('settings-panel').hidden));
  const context = { client: () => client, render, toast };
  wireConfirm();
  wireReceipts(context);
  wireNotifications({ client: () => client, openChat });
  wireLists({ client: () => client, current: () => current, openChat, openWith, toast });
  wireMessages(context);
  $('composer').addEventListener('submit', sendMessage);
  $('composer-text').addEventListener('keydown', (event) => {
    if (suggestionKeys(event)) return; // the @name list took the key (mentions.js)
    if (event.key === 'Escape' && (cancelEdit() || cancelReply())) event.preventDefault();
    if (event.key === 'Enter' && !event.shiftKey) sendMessage(event);
  });
  $('composer-text').addEventListener('input', () => {
    // An edit is not typing: the others see no indicator for it. Nor does a request's sender,
    // who is told nothing until it is answered (requests.js).
    if (!client || !current?.channel || editingNow() || client.requests.isRequest(current.channel)) return;
    client.typing.composing(current.channel, $('composer-text').value);
  });
  wireEdits({ ...context, reply: startReply, cancelReply });
  wireReplies(context);
  wireMute(context);
  wireRequests({ client: () => client, current: () => current, openChat, toast });
  wireSearch({ client: () => client, current: () => current, openChat, render, toast });
  wireMentions({ client: () => client, channel: () => (client && current?.channel ? client.channels.get(current.channel) : null) });
  $('contact-form').addEventListener('submit', addContact);
  $('new-group').addEventListener('click', showGroupForm);
  $('group-cancel').addEventListener('click', () => ($('group-form').hidden = true));
  $('group-form').addEventListener('submit', createGroup);
  $('members-toggle').addEventListener('click', () => ($('members-panel').hidden = !$('members-panel').hidden));
  $('member-form').addEventListener('submit', addMember);
  $('leave-group').addEventListener('click', leaveGroup);
  $('back').addEventListener('click', closeChat);
  $('load-older').addEventListener('click', () => current?.channel && client.loadOlder(current.channel));
  $('messages').addEventListener('scroll', () => {
    if ($('messages').scrollTop === 0 && current?.channel) client.loadOlder(current.channel);
    onScroll();
  });
  watchTabs({ stepAside, sessionChanged });
  // "last active" times age while nobody sends anything.
  setInterval(() => client && render(), 15_000);
}

wire();
const saved = savedSession();
if (saved) startApp(saved);
else showAuth();
