// Message requests (docs/protocol.md, "Message requests"; docs/web.md, "Message requests"):
// a chat someone who is not this person's contact started with them (or a group such a
// person added them to) waits apart until they answer it. No DOM.
//
//  - The flag comes from channelList (`request: true`) only. A channel this client has just
//    met in a delivery has no flag yet: its messages are held, uncounted, until the next
//    channelList says, so a stranger's first message never shows as an unread chat.
//  - A request never counts: no live +1, so no badge, total, title count or notification.
//    (The node leaves requests out of queryUnread too.)
//  - Answers: accept (`answerRequest` accept; for a 1:1 chat the node also makes the peer a
//    contact), delete (`answerRequest` delete: a 1:1 chat's messages up to `clearedSeq` are
//    dropped, with any copies a lagging delivery brings later; a group is left) and block
//    (`changeContact` block, then delete). Our own message in a request accepts it: the node
//    clears the flag at the send and answers nothing more, so it is cleared here at the
//    `sendAck`. Another device's answer arrives as `requestAnswered` with request "0".
//  - The node leaves a deleted request out of channelList (a 1:1 chat until a newer message
//    arrives; a group for good), so chat.js drops the chats a full list no longer names.

import { describeRequestError } from './errors.js';

const big = (id) => BigInt(id ?? 0);

export class Requests {
  // client: the ChatClient (its channels, requests, unread counts and change events).
  constructor(client) {
    this.client = client;
    this.held = new Map(); // channel id -> live messages that arrived before its flag was known
    this.cleared = new Map(); // channel id -> BigInt: messages at or below it were cleared for us
    this.answering = new Set(); // channel ids with an answer on its way
  }

  isRequest(channelId) {
    return this.client.channels.get(channelId)?.request === true;
  }

  // The requests to show, in no particular order (the page sorts them).
  list() {
    return [...this.client.channels.values()].filter((channel) => channel.kind !== 'unknown' && channel.request === true);
  }

  // ---- Deliveries --------------------------------------------------------------------------
  // A copy of a message cleared by a delete (a lagging device's delivery): it is dropped.
  isCleared(message) {
    return big(message.seq) <= (this.cleared.get(message.channel) ?? 0n);
  }

  // May `message`, delivered to `channel`, count as unread now? Not in a request; and not yet
  // in a channel whose flag is unknown: a live text from someone else waits there for the
  // channelList chat.js asks for (release).
  mayCount(channel, message, live) {
    if (channel.request === true) {
      // Our own message sent from another device accepted it: ask the node to be sure.
      if (live && message.sender === this.client.me && message.kind === 'text') this.client.refreshChannelsSoon();
      return false;
    }
    if (channel.kind !== 'unknown') return true;
    if (live && message.kind === 'text' && message.sender !== this.client.me) {
      const held = this.held.get(channel.id) ?? [];
      held.push(message);
      this.held.set(channel.id, held);
    }
    return false;
  }

  // After a channelList: the messages held for chats now known count as they would have on
  // arrival, unless the chat is a request (or was dropped).
  release() {
    const client = this.client;
    for (const [id, messages] of [...this.held]) {
      const channel = client.channels.get(id);
      if (channel?.kind === 'unknown') continue; // not listed yet: keep waiting
      this.held.delete(id);
      if (!channel || channel.request === true) continue;
      for (const message of messages) {
        if (channel.messages.has(message.seq) && client.receipts.onMessage(message, true)) {
          client.dispatchEvent(new CustomEvent('unread-message', { detail: message }));
        }
      }
    }
  }

  // A channelList summary: the flag, and a 1:1 chat's cleared messages.
  onSummary(summary, channel) {
    channel.request = summary.request === true;
    if (big(summary.clearedSeq) > 0n) this.clear(summary.channel, summary.clearedSeq);
  }

  // Messages up to `upTo` of `channelId` were cleared for us: nothing of them stays.
  clear(channelId, upTo) {
    const seq = big(upTo);
    if (seq > (this.cleared.get(channelId) ?? 0n)) this.cleared.set(channelId, seq);
    const client = this.client;
    const channel = client.channels.get(channelId);
    if (channel) {
      for (const key of [...channel.messages.keys()]) if (big(key) <= seq) channel.messages.delete(key);
      client.edits.dropUpTo(channelId, seq);
    }
    client.outbox.dropUpTo(channelId, seq);
    const held = this.held.get(channelId)?.filter((message) => big(message.seq) > seq);
    if (held) this.held.set(channelId, held);
  }

  // The chat is gone from this person's list (deleted here or on another device, or left
  // out of channelList): it is forgotten with its count.
  forget(channelId) {
    const client = this.client;
    client.channels.delete(channelId);
    this.held.delete(channelId);
    if (client.unread.delete(channelId)) client.saveSync();
  }

  // ---- Answers -------------------------------------------------------------------------------
  // `requestAnswered`: ours, or (request "0") another device's.
  apply(answer) {
    const client = this.client;
    const channel = client.channels.get(answer.channel);
    if (answer.answer === 'accept') {
      if (channel) channel.request = false;
      // A 1:1 accept made the peer a contact.
      if (channel?.kind === 'direct') client.refreshContactsSoon();
    } else {
      if (big(answer.clearedSeq) > 0n) this.clear(answer.channel, answer.clearedSeq);
      this.forget(answer.channel);
    }
    client.changed();
  }

  // Our send in `channelId` was stored: if it was a request, the node accepted it. A
  // duplicate was stored earlier, maybe before the chat became a request again: ask.
  onSent(channelId, duplicate) {
    const channel = this.client.channels.get(channelId);
    if (channel?.request !== true) return;
    if (duplicate) return this.client.refreshChannelsSoon();
    channel.request = false;
    this.client.changed();
  }

  accept(channelId) {
    return this.answer(channelId, 'accept');
  }

  remove(channelId) {
    return this.answer(channelId, 'delete');
  }

  // Blocks whoever started the request (the peer, or who added us to the group), then
  // deletes it. The block goes first, so nothing of theirs slips in between.
  async block(channelId) {
    const channel = this.client.channels.get(channelId);
    if (!channel) return;
    this.answering.add(channelId);
    try {
      await this.client.request('changeContact', { action: 'block', user: this.starter(channel) });
    } catch (error) {
      this.answering.delete(channelId);
      throw error; // its text is changeContact's (errors.js)
    }
    this.client.refreshContactsSoon();
    await this.answer(channelId, 'delete');
  }

  // Sends answerRequest; resolves once the node's answer is applied. A refusal rejects with
  // its text for a request (errors.js), and the chat list is asked again: the chat may have
  // been answered on another device meanwhile. Not connected, it rejects with no `code`.
  async answer(channelId, answer) {
    this.answering.add(channelId);
    this.client.changed();
    try {
      this.apply(await this.client.request('answerRequest', { channel: channelId, answer }));
    } catch (error) {
      if (!error.code) throw error;
      this.client.refreshChannelsSoon();
      const refused = new Error(describeRequestError(error.code, error.message));
      refused.code = error.code;
      throw refused;
    } finally {
      this.answering.delete(channelId);
      this.client.changed();
    }
  }

  // ---- Who --------------------------------------------------------------------------------
  // Who started the request: a 1:1 chat's peer; for a group, who added us (the newest event
  // adding us that is held), else its admin.
  starter(channel) {
    const client = this.client;
    if (channel.kind !== 'group') return client.peerOf(channel);
    let found = null;
    for (const message of channel.messages.values()) {
      const addsUs = (message.kind === 'member_added' || message.kind === 'group_created') && message.users.includes(client.me);
      if (addsUs && (!found || big(message.seq) > big(found.seq))) found = message;
    }
    return found?.sender ?? channel.admin;
  }
}
