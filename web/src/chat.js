// The protocol side of the web client: one WebSocket per browser (the tabs share one device,
// and one tab at a time is connected: tabs.js), in the JSON form of the frames
// (docs/protocol.md). It owns the sync rules:
//
//  - the cursor is the highest inbox entry this device has applied; it is kept in
//    localStorage and sent in every hello, so a reconnect gets exactly what was missed;
//  - deliveries at or below the cursor are dropped, so a replay never shows a message twice;
//  - unacked sends live in an outbox (in IndexedDB, outbox.js) and are resent after every
//    reconnect, and at the next start, with their original clientMsgId, which the node
//    deduplicates;
//  - a dropped connection reconnects with capped, jittered exponential backoff, and asks
//    discovery first where to: in a cluster the node it was on may be the one that died
//    (docs/cluster.md, "Gateways"); when discovery itself does not answer, it tries the next
//    gateway discovery named before.
//
// The outbox (outbox.js), typing indicators (typing.js), receipts with the unread counts
// they drive (receipts.js), edits and deletes with the quotes of replies (edits.js,
// replies.js), mutes (mutes.js), message requests (requests.js), the chat list's previews
// (previews.js) and search (search.js) have modules of their own; this file routes their
// frames to them.
//
// Ids stay strings (they are 64-bit); comparisons go through BigInt.

import { Edits } from './edits.js';
import { describeError } from './errors.js';
import { Mutes } from './mutes.js';
import { Outbox } from './outbox.js';
import { Previews } from './previews.js';
import { Receipts } from './receipts.js';
import { Requests } from './requests.js';
import { Search } from './search.js';
import { Typing } from './typing.js';

const HISTORY_PAGE = 30;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

function big(id) {
  return BigInt(id ?? 0);
}

export class ChatClient extends EventTarget {
  // session: {user, device, token, name}; storage: a Storage (localStorage in the page);
  // discover: an async function answering GET /v1/discover ({websocket, gateways}), or null;
  // gateways: every gateway the page's discovery named (a cluster's), wsUrl among them.
  constructor(session, storage, wsUrl, discover = null, gateways = [wsUrl]) {
    super();
    this.session = session;
    this.storage = storage;
    this.wsUrl = wsUrl;
    this.discover = discover;
    this.gateways = gateways.length ? gateways : [wsUrl];
    this.connectSeq = 0;
    this.me = String(session.user);
    this.status = 'connecting';
    this.channels = new Map(); // channel id -> channel state (see ensureChannel)
    this.contacts = [];
    this.presence = new Map(); // user id -> {online, lastActiveAt}
    this.names = new Map([[this.me, session.name]]);
    this.viewing = null; // the channel the user has open
    this.ws = null;
    this.welcomed = false;
    this.nextRequest = 1;
    this.pending = new Map(); // request id -> {resolve, reject, clientMsgId?}
    this.attempt = 0;
    this.stopped = false;
    this.liveFrom = 0n; // inbox entries above this arrived live (count as new unread)
    this.refreshTimer = null;
    this.typing = new Typing(this); // who types where, and our own typing frames
    this.receipts = new Receipts(this); // positions, our read position, the setting
    this.edits = new Edits(this); // edits and deletes for everyone, and who may make them
    this.mutes = new Mutes(this); // which chats are muted, and until when
    this.outbox = new Outbox(this); // sends not acked yet (loaded from IndexedDB at start)
    this.previews = new Previews(this); // the newest message of chats not opened yet
    this.requests = new Requests(this); // chats from people who are not contacts, kept apart
    this.search = new Search(this); // the messages found for the search box, page by page
    this.addEventListener('sent', (event) => this.requests.onSent(event.detail.channel, event.detail.duplicate));
    this.listGeneration = 0; // counts refreshChannels calls: a list drops only chats it could have named
    this.channelsListed = false; // listChannels answered once (the page's empty-state hint waits for it)
    this.contactsListed = false;
    this.loadSync();
  }

  // ---- Persistence (per device, shared by the browser's tabs) ---------------------------
  get syncKey() {
    return `parley.sync.${this.session.device}`;
  }
  loadSync() {
    const stored = this.storage.getItem(this.syncKey);
    // A new device starts at the inbox head instead of downloading the whole inbox: its
    // chats come from listChannels and their messages from history, page by page.
    this.fresh = stored === null;
    const saved = JSON.parse(stored ?? '{}');
    this.cursor = big(saved.cursor);
    this.unread = new Map(Object.entries(saved.unread ?? {}));
  }
  saveSync() {
    this.storage.setItem(
      this.syncKey,
      JSON.stringify({
        cursor: this.cursor.toString(),
        unread: Object.fromEntries(this.unread),
      }),
    );
  }

  changed() {
    this.receipts.markReadIfDue();
    this.dispatchEvent(new Event('change'));
  }
  notify(message) {
    this.dispatchEvent(new CustomEvent('notice', { detail: message }));
  }

  // ---- Connection -------------------------------------------------------------------------
  // The outbox is read first, so what an earlier tab left unsent goes after the welcome.
  async start() {
    this.stopped = false;
    addEventListener('offline', this.onBrowserOffline);
    addEventListener('online', this.onBrowserOnline);
    this.receipts.attach();
    await this.outbox.load();
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener('offline', this.onBrowserOffline);
    removeEventListener('online', this.onBrowserOnline);
    this.receipts.detach();
    this.mutes.stop();
    clearTimeout(this.reconnectTimer);
    this.dropSocket();
  }

  // The browser knows the network is gone before TCP does: drop the socket now, so that
  // sends queue in the outbox and the reconnect starts the moment the network returns.
  onBrowserOffline = () => {
    this.dropSocket();
    this.setStatus('offline');
  };
  onBrowserOnline = () => {
    if (this.stopped || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.attempt = 0;
    this.connect();
  };

  setStatus(status) {
    this.status = status;
    this.changed();
  }

  async connect() {
    if (this.stopped) return;
    if (!navigator.onLine) return this.setStatus('offline');
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const seq = ++this.connectSeq;
    if (seq > 1) await this.rediscover(); // the page discovered just before the first
    if (this.stopped || seq !== this.connectSeq || this.ws) return; // stopped, or superseded
    const ws = new WebSocket(`${this.wsUrl}?token=${encodeURIComponent(this.session.token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.helloRequest = String(this.nextRequest++);
      this.transmit({ hello: { request: this.helloRequest, cursor: this.cursor.toString() } });
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.onFrame(JSON.parse(event.data));
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.onClosed(event.code, event.reason);
    };
  }

  // Before a reconnect: where to. The node that served the page names the best live gateway;
  // when it does not answer (it may be the node that died), the next gateway it named before.
  async rediscover() {
    if (!this.discover) return;
    try {
      const answer = await this.discover();
      if (answer?.websocket) this.wsUrl = answer.websocket;
      if (answer?.gateways?.length) this.gateways = answer.gateways;
    } catch {
      if (this.gateways.length > 1) {
        const next = (this.gateways.indexOf(this.wsUrl) + 1) % this.gateways.length;
        this.wsUrl = this.gateways[next];
      }
    }
  }

  dropSocket() {
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    clearInterval(this.heartbeatTimer);
    this.failPending('disconnected');
    this.typing.reset();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
    }
  }

  onClosed(code, reason) {
    this.dropSocket();
    if (code === 1000 && reason.startsWith('replaced')) {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent('ended', { detail: 'replaced' }));
      return;
    }
    if (code === 1000 && reason === 'logged_out') {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent('ended', { detail: 'logged_out' }));
      return;
    }
    if (code === 1008 && reason === 'unknown_device') {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent('ended', { detail: 'unauthorized' }));
      return;
    }
    if (this.stopped) return;
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.setStatus(navigator.onLine ? 'reconnecting' : 'offline');
    // Several refused upgrades in a row may mean the token expired: ask the HTTP API.
    if (this.attempt % 4 === 0) this.dispatchEvent(new CustomEvent('check-token'));
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  transmit(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // A request that expects an answer; resolves with the answer's payload.
  request(name, fields = {}) {
    return this.ask(name, fields).answer;
  }

  // The same, with the request's id: {id (null when not connected), answer (a promise)}.
  ask(name, fields = {}) {
    if (!this.welcomed) return { id: null, answer: Promise.reject(new Error('disconnected')) };
    const id = String(this.nextRequest++);
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.transmit({ [name]: { request: id, ...fields } });
    return { id, answer };
  }

  failPending(why) {
    for (const [, waiter] of this.pending) waiter.reject?.(new Error(why));
    this.pending.clear();
  }

  // ---- Incoming frames ------------------------------------------------------------------------
  onFrame(frame) {
    const [kind, body] = Object.entries(frame)[0];
    switch (kind) {
      case 'welcome':
        return this.onWelcome(body);
      case 'deliver':
        return this.onDeliver(body.entries);
      case 'presenceList':
        if (body.request === '0') return this.onPresenceSnapshot(body.entries);
        break;
      case 'presence':
        return this.onPresence(body);
      case 'sendAck':
        return this.outbox.onSendAck(body);
      case 'typing':
        return this.typing.onEvent(body);
      case 'receipt':
        return this.receipts.onReceipt(body);
      case 'receipts':
        if (body.request === '0') return this.receipts.onReceipts(body); // a batch's, coalesced
        break;
      case 'settings':
        if (body.request === '0') return this.receipts.applySettings(body);
        break;
      case 'channelMute':
        if (body.request === '0') return this.mutes.apply(body); // another of our devices
        break;
      case 'requestAnswered':
        if (body.request === '0') return this.requests.apply(body); // another of our devices
        break;
      case 'failure':
        if (this.onFailure(body)) return;
        break;
    }
    if (kind === 'failure' && body.request === this.helloRequest) {
      // The node was too busy to take the hello: start over after a backoff.
      this.dropSocket();
      return this.scheduleReconnect();
    }
    if (kind === 'failure' && this.typing.refused(body)) return;
    const waiter = this.pending.get(body.request);
    if (!waiter) return;
    this.pending.delete(body.request);
    if (waiter.clientMsgId) {
      if (kind === 'failure') this.outbox.onRefused(waiter, body);
      return;
    }
    if (kind === 'failure') {
      const error = new Error(describeError(body.code, body.message));
      error.code = body.code;
      waiter.reject(error);
    } else {
      waiter.resolve(body);
    }
  }

  onWelcome(welcome) {
    if (this.fresh && big(welcome.inboxHead) > this.cursor) {
      this.fresh = false;
      this.cursor = big(welcome.inboxHead);
      this.saveSync();
      this.dropSocket();
      return this.connect();
    }
    this.fresh = false;
    this.saveSync();
    this.welcomed = true;
    this.attempt = 0;
    this.liveFrom = big(welcome.inboxHead);
    this.setStatus('online');
    const interval = Math.max(250, Number(welcome.heartbeatIntervalUs) / 1000);
    this.heartbeatTimer = setInterval(() => this.transmit({ heartbeat: {} }), interval);
    this.refreshChannels();
    this.refreshContacts();
    this.receipts.onWelcome();
    this.outbox.resendAll();
  }

  // A hello with a cursor past the head (a store reset under us) or a device that no
  // longer exists ends the session in a failure with request "0".
  onFailure(failure) {
    if (failure.request !== '0') return false;
    if (failure.code === 'invalid_cursor') {
      this.cursor = 0n;
      this.saveSync();
    } else if (failure.code === 'rate_limited') {
      // The dropped frame may have been a send: resend what is unacked (deduplicated).
      this.outbox.resendSoon();
    } else if (failure.code !== 'unknown_device') {
      this.notify(describeError(failure.code, failure.message));
    }
    return true;
  }

  onDeliver(entries) {
    let applied = false;
    for (const entry of entries) {
      const seq = big(entry.inboxSeq);
      if (seq <= this.cursor) continue; // a replay: already applied
      this.applyMessage(entry.message, seq > this.liveFrom);
      this.cursor = seq;
      applied = true;
    }
    if (entries.length > 0) {
      const last = entries[entries.length - 1].inboxSeq;
      this.transmit({ ack: { inboxSeq: big(last) > this.cursor ? this.cursor.toString() : last } });
    }
    if (applied) {
      this.saveSync();
      this.changed();
    }
  }

  onPresenceSnapshot(entries) {
    this.presence.clear();
    for (const entry of entries) this.onPresence(entry, false);
    this.changed();
  }

  onPresence(entry, render = true) {
    if (!entry.online && entry.lastActiveAt === '0') {
      this.presence.delete(entry.user);
    } else {
      this.presence.set(entry.user, { online: entry.online, lastActiveAt: Number(entry.lastActiveAt) / 1000 });
    }
    // A presence frame for someone new means a friendship just formed or ended.
    if (render) {
      this.refreshContactsSoon();
      this.changed();
    }
  }

  // ---- Channels and messages ------------------------------------------------------------------
  ensureChannel(id) {
    let channel = this.channels.get(id);
    if (!channel) {
      channel = {
        id,
        kind: 'unknown',
        name: '',
        admin: '0',
        active: true,
        members: [],
        messages: new Map(), // seq string -> message
        loaded: false, // a history page was fetched
        hasMore: true,
        loading: false,
        request: null, // a message request (requests.js): null until channelList says
        born: this.listGeneration, // the chat lists started before it was met
      };
      this.channels.set(id, channel);
    }
    return channel;
  }

  // An edit or a delete changes the message it targets and nothing else: it is never
  // unread and ends no typing indicator (edits.js).
  applyMessage(message, live) {
    if (this.requests.isCleared(message)) return; // a lagging copy of a deleted request's message
    const channel = this.ensureChannel(message.channel);
    const change = this.edits.merge(channel, message);
    if (channel.kind === 'unknown' || (!change && message.kind !== 'text')) this.refreshChannelsSoon();
    if (change) return;
    this.typing.onMessage(message, live);
    this.outbox.delivered(message);
    // Never in a request, nor before the chat's flag is known (requests.js).
    if (!this.requests.mayCount(channel, message, live)) return;
    // One more unread: the page may tell the person (notify.js).
    if (this.receipts.onMessage(message, live)) {
      this.dispatchEvent(new CustomEvent('unread-message', { detail: message }));
    }
  }

  refreshChannelsSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refreshChannels(), 50);
  }

  // The list comes in pages (at most 100 channels each): ask until `more` is false. A chat
  // met before the list was asked and not in it was deleted as a request (requests.js).
  async refreshChannels() {
    const generation = ++this.listGeneration;
    const summaries = [];
    try {
      let after = '0';
      for (;;) {
        const page = await this.request('listChannels', { after, limit: 100 });
        summaries.push(...page.channels);
        if (!page.more || page.channels.length === 0) break;
        after = page.channels[page.channels.length - 1].channel;
      }
    } catch {
      return;
    }
    for (const summary of summaries) {
      const channel = this.ensureChannel(summary.channel);
      Object.assign(channel, {
        kind: summary.kind,
        name: summary.name,
        admin: summary.admin,
        active: summary.active,
        lastSeq: summary.lastSeq,
        members: summary.members.map((m) => m.user),
      });
      for (const member of summary.members) this.names.set(member.user, member.name);
      this.receipts.onSummary(summary);
      this.mutes.onSummary(summary);
      this.requests.onSummary(summary, channel);
    }
    const listed = new Set(summaries.map((summary) => summary.channel));
    for (const channel of [...this.channels.values()]) {
      if (!listed.has(channel.id) && channel.born < generation) this.requests.forget(channel.id);
    }
    this.requests.release();
    this.channelsListed = true;
    this.previews.load();
    this.changed();
  }

  refreshContactsSoon() {
    clearTimeout(this.contactsTimer);
    this.contactsTimer = setTimeout(() => this.refreshContacts(), 50);
  }

  // Contacts decide which chats are requests (an add accepts one, a remove or a block makes
  // one): a change (made here, or on another device) asks for the chat list again, unless
  // the caller does (`channelsToo` false).
  async refreshContacts(channelsToo = true) {
    try {
      const list = await this.request('listContacts');
      const states = (contacts) => contacts.map((c) => `${c.user}:${c.state}`).join(',');
      const changed = this.contactsListed && states(list.contacts) !== states(this.contacts);
      if (changed && channelsToo) this.refreshChannelsSoon();
      this.contacts = list.contacts;
      this.contactsListed = true;
      for (const contact of list.contacts) this.names.set(contact.user, contact.name);
      this.changed();
    } catch {
      /* retried on the next welcome */
    }
  }

  // The 1:1 channel with `peer`, if it exists yet.
  directChannelWith(peer) {
    for (const channel of this.channels.values()) {
      if (channel.kind !== 'direct') continue;
      const others = channel.members.filter((m) => m !== this.me);
      if ((others[0] ?? this.me) === peer) return channel;
    }
    return null;
  }

  peerOf(channel) {
    const others = channel.members.filter((m) => m !== this.me);
    return others[0] ?? this.me;
  }

  title(channel) {
    if (channel.kind === 'group') return channel.name;
    if (channel.kind === 'direct') return this.names.get(this.peerOf(channel)) ?? 'chat';
    return 'chat';
  }

  sortedMessages(channel) {
    return [...channel.messages.values()].sort((a, b) => (big(a.seq) < big(b.seq) ? -1 : 1));
  }

  // The chat on screen: its unread count goes and markRead follows (receipts.js) while the
  // page is visible; the members' receipt positions are asked afresh.
  open(channelId) {
    this.typing.leaving(channelId);
    this.viewing = channelId;
    const channel = channelId && this.channels.get(channelId);
    if (channel && !channel.loaded) this.loadOlder(channelId);
    if (channelId) this.receipts.query(channelId);
    this.changed();
  }

  // Fetches the `limit` messages before the oldest one held (the newest page the first
  // time). Resolves when that page (or the one already on its way) is in.
  loadOlder(channelId, limit = HISTORY_PAGE) {
    const channel = this.ensureChannel(channelId);
    if (channel.loading) return channel.loading;
    if (channel.loaded && !channel.hasMore) return Promise.resolve();
    const held = this.sortedMessages(channel);
    const beforeSeq = channel.loaded && held.length > 0 ? held[0].seq : '0';
    channel.loading = this.fetchHistory(channel, beforeSeq, limit).finally(() => {
      channel.loading = false;
      this.changed();
    });
    return channel.loading;
  }

  async fetchHistory(channel, beforeSeq, limit) {
    try {
      const page = await this.request('history', { channel: channel.id, beforeSeq, limit });
      for (const message of page.messages) this.edits.merge(channel, message);
      channel.hasMore = page.hasMore;
      channel.loaded = true;
    } catch (error) {
      if (error.code) this.notify(error.message);
    }
  }

  // ---- Groups and contacts ----------------------------------------------------------------
  async createGroup(name, members) {
    const created = await this.request('createGroup', { name, members });
    await this.refreshChannels();
    return created.channel;
  }
  // `addMember{channel, user}`, `removeMember{channel, user}` or `leaveGroup{channel}`.
  async changeGroup(frame, fields) {
    await this.request(frame, fields);
    await this.refreshChannels();
  }
  // A remove or a block makes the 1:1 chat with `user` a request again (requests.js).
  async changeContact(user, action) {
    await this.request('changeContact', { action, user });
    await Promise.all([this.refreshContacts(false), this.refreshChannels()]);
  }

  // Ends this device's session on the WebSocket (drops its push token, and takes the user
  // offline at once if this was their last device).
  async logout() {
    try {
      await Promise.race([this.request('logout'), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      /* the HTTP logout still runs */
    }
    this.stop();
    this.storage.removeItem(this.syncKey);
    await this.outbox.store.clear(this.session.device).catch(() => {});
  }
}
