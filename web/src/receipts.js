// Delivery and read receipts (docs/protocol.md, "Receipts"; docs/web.md, "Receipts"), and
// the unread counts that follow this person's read position.
//
//  - Positions: per chat, each member's {delivered, read} (BigInt seqs), from `receipts`
//    answers (asked when a chat is opened, and after every welcome for the open chat) and
//    `receipt` events (the node sends one when a move passes our newest message there; a
//    `receipts` with request "0" carries several members' moves of one commit).
//  - Our own read position per chat is the highest of channelList's `readSeq`, a receipt
//    about ourselves (another of our devices read) and the `markRead`s sent from here.
//  - `markRead` goes out when the open chat is on screen (the page visible) and shows a
//    message from someone else past our read position, with the newest seq shown: once per
//    move, never for a seq at or below what was already sent. An edit or a delete
//    (edits.js) alone sends none: it is not a message to read.
//  - Unread counts: the node's (`queryUnread`, counting from the read position) after each
//    welcome, plus what arrives live while the chat is not being read; a read anywhere
//    clears or recounts them.
//  - The setting `readReceipts` (on by default): off, our reads are not shared and we see
//    no one's. The node enforces that; the client also draws no "read" while it is off.

import { isChange } from './edits.js';

const big = (id) => BigInt(id ?? 0);
const max = (a, b) => (a > b ? a : b);
const NOWHERE = { delivered: 0n, read: 0n };

export class Receipts {
  // client: the ChatClient (its requests, channels, unread counts and change events).
  constructor(client) {
    this.client = client;
    this.positions = new Map(); // channel id -> Map(user id -> {delivered, read})
    this.read = new Map(); // channel id -> our read position the node confirmed (BigInt)
    this.marking = new Map(); // channel id -> the seq of a markRead on its way
    this.readReceipts = null; // our setting: null until the node says
    this.unreadTimer = null;
  }

  attach() {
    globalThis.document?.addEventListener('visibilitychange', this.onVisibility);
  }
  detach() {
    globalThis.document?.removeEventListener('visibilitychange', this.onVisibility);
    clearTimeout(this.unreadTimer);
  }
  // Coming back to the page: the open chat is read now.
  onVisibility = () => this.client.changed();

  // True while `channelId` is on screen: the open chat in a visible page.
  reading(channelId) {
    const visible = (globalThis.document?.visibilityState ?? 'visible') === 'visible';
    return visible && channelId !== null && this.client.viewing === channelId;
  }

  // (A markRead in flight when the connection dropped was refused with it, and goes again
  // at the first change now if still due.)
  onWelcome() {
    this.askSettings();
    this.loadUnread('0');
    if (this.client.viewing) this.query(this.client.viewing);
  }

  // ---- Our read position and unread counts -------------------------------------------------
  position(channelId) {
    return max(this.read.get(channelId) ?? 0n, this.marking.get(channelId) ?? 0n);
  }

  // The newest seq this client knows of in `channelId`.
  newest(channelId) {
    const channel = this.client.channels.get(channelId);
    let newest = big(channel?.lastSeq);
    for (const seq of channel?.messages.keys() ?? []) newest = max(newest, big(seq));
    return newest;
  }

  // Sends `markRead` for the open chat if it is on screen and shows a message from someone
  // else past our read position (called at every change, so it runs when messages arrive,
  // a chat opens or its history loads, the page becomes visible, or the connection returns).
  markReadIfDue() {
    const client = this.client;
    const id = client.viewing;
    if (!id || !client.welcomed || !this.reading(id)) return;
    if (client.unread.delete(id)) client.saveSync();
    const channel = client.channels.get(id);
    if (!channel) return;
    const from = this.position(id);
    let newest = from;
    let news = false;
    for (const message of channel.messages.values()) {
      const seq = big(message.seq);
      if (seq <= from) continue;
      newest = max(newest, seq);
      if (message.sender !== client.me && !isChange(message)) news = true; // not an edit or delete
    }
    if (!news) return;
    this.marking.set(id, newest);
    client.request('markRead', { channel: id, seq: newest.toString() }).then(
      () => this.readUpTo(id, newest),
      (error) => {
        if (this.marking.get(id) === newest) this.marking.delete(id);
        // A refusal would be refused again: take it as read. A dropped connection sends it
        // again after the next welcome.
        if (error.code) this.read.set(id, max(this.read.get(id) ?? 0n, newest));
      },
    );
  }

  // Our read position in `channelId` is now at least `seq` (a markRead answered, another
  // device's read, channelList's readSeq): its unread count goes, or is asked again when
  // newer messages than the read ones are known.
  readUpTo(channelId, seq) {
    if (this.marking.get(channelId) !== undefined && this.marking.get(channelId) <= seq) {
      this.marking.delete(channelId);
    }
    if (seq <= (this.read.get(channelId) ?? 0n)) return false;
    this.read.set(channelId, seq);
    const client = this.client;
    if (!client.unread.has(channelId)) return true;
    if (seq >= this.newest(channelId)) {
      client.unread.delete(channelId);
      client.saveSync();
    } else {
      this.loadUnreadSoon();
    }
    return true;
  }

  // A text from someone else arrived in `channelId`: unread unless it is on screen. True if
  // it was counted.
  onMessage(message, live) {
    const client = this.client;
    if (message.kind !== 'text' || message.sender === client.me || !live) return false;
    if (big(message.seq) <= this.position(message.channel) || this.reading(message.channel)) return false;
    client.unread.set(message.channel, (client.unread.get(message.channel) ?? 0) + 1);
    return true;
  }

  onSummary(summary) {
    this.readUpTo(summary.channel, big(summary.readSeq));
  }

  loadUnreadSoon() {
    clearTimeout(this.unreadTimer);
    this.unreadTimer = setTimeout(() => this.loadUnread('0'), 50);
  }

  // The node's counts (from each chat's read position) replace ours, page by page (at most
  // 500 chats each): ask again after the last while `more`. A chat the page covers and does
  // not list has nothing unread.
  loadUnread(after) {
    const client = this.client;
    client.request('queryUnread', { after }).then((counts) => {
      const listed = new Map(counts.channels.map(({ channel, count }) => [channel, Number(count)]));
      const last = counts.channels.length ? big(counts.channels.at(-1).channel) : null;
      const covered = (id) => big(id) > big(after) && (!counts.more || (last !== null && big(id) <= last));
      for (const id of [...client.unread.keys()]) if (covered(id) && !listed.has(id)) client.unread.delete(id);
      for (const [id, count] of listed) client.unread.set(id, count);
      client.saveSync();
      client.changed(); // the open chat, if on screen, drops its count again there
      if (counts.more && last !== null) this.loadUnread(last.toString());
    }, () => {});
  }

  // ---- The others' positions ---------------------------------------------------------------
  query(channelId) {
    const client = this.client;
    if (!client.welcomed || !channelId) return;
    client.request('queryReceipts', { channel: channelId }).then(
      (answer) => {
        const members = new Map();
        for (const entry of answer.entries) {
          members.set(entry.user, { delivered: big(entry.deliveredSeq), read: big(entry.readSeq) });
        }
        this.positions.set(answer.channel, members);
        const mine = members.get(client.me);
        if (mine) this.readUpTo(answer.channel, mine.read);
        client.changed();
      },
      () => {}, // not a member any more: nothing to show
    );
  }

  // `receipt`: a member's positions moved; with our own user id, another device read.
  onReceipt(event) {
    this.apply(event.channel, event);
    this.client.changed();
  }

  // `receipts` with request "0": the receipts of one commit for one chat, coalesced by the
  // node; only the members listed moved (docs/protocol.md, "Receipts"). One redraw for all.
  onReceipts(event) {
    for (const entry of event.entries) this.apply(event.channel, entry);
    this.client.changed();
  }

  // One member's positions in `channel` (a ReceiptEntry's fields).
  apply(channel, entry) {
    let members = this.positions.get(channel);
    if (!members) this.positions.set(channel, (members = new Map()));
    const before = members.get(entry.user) ?? NOWHERE;
    // The read position is "0" when it is not shared (any more): take it as it comes.
    members.set(entry.user, { delivered: max(before.delivered, big(entry.deliveredSeq)), read: big(entry.readSeq) });
    if (entry.user === this.client.me) this.readUpTo(channel, big(entry.readSeq));
  }

  // Where our message `seq` in `channelId` is for `user`: 'read' (seen; never while our
  // setting is off), 'delivered' (on one of their devices) or 'sent' (stored by the node).
  memberState(channelId, user, seq) {
    const at = big(seq);
    const position = this.positions.get(channelId)?.get(user) ?? NOWHERE;
    if (this.readReceipts !== false && position.read >= at) return 'read';
    return position.delivered >= at || position.read >= at ? 'delivered' : 'sent';
  }

  // What our message `seq` in `channel` has reached: `state` 'sent', 'delivered' (every
  // other member has it) or 'read' (every other member saw it); `readers`, the other members
  // who saw it; `of`, how many other members there are.
  status(channel, seq) {
    const others = channel.members.filter((user) => user !== this.client.me);
    if (others.length === 0) return { state: 'sent', readers: [], of: 0 };
    const states = others.map((user) => this.memberState(channel.id, user, seq));
    const readers = others.filter((_, i) => states[i] === 'read');
    const delivered = states.every((state) => state !== 'sent');
    const state = readers.length === others.length ? 'read' : delivered ? 'delivered' : 'sent';
    return { state, readers, of: others.length };
  }

  // ---- The setting ---------------------------------------------------------------------------
  askSettings() {
    this.client.request('settings', {}).then((answer) => this.applySettings(answer), () => {});
  }

  // Turns sharing read positions on or off; resolves once the node has it.
  async setReadReceipts(on) {
    const answer = await this.client.request('settings', { readReceipts: on });
    this.applySettings(answer);
  }

  // Our setting now (an answer, or with request "0" a change made on another device). A
  // change alters whose reads the node shows us: the open chat's positions are asked again.
  applySettings(settings) {
    const on = settings.readReceipts !== false;
    const changed = this.readReceipts !== null && this.readReceipts !== on;
    this.readReceipts = on;
    if (changed) this.query(this.client.viewing);
    this.client.changed();
  }
}
