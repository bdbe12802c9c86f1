// The outbox (docs/web.md, "Devices, sync and reconnects"): a message is written here, and
// to IndexedDB (store.js), before anything is sent. It is resent after every reconnect, and
// when parley is next opened in this browser, with its original clientMsgId (the node
// answers a resend of a stored message with `duplicate: true`) until a `sendAck` says it is
// stored; it is then held as acked, shown with ✓, until its delivery comes back to this
// device. A reply keeps its `replyTo` through every resend (the node answers a resend with
// the original's coordinates anyway).

import { describeSendError } from './errors.js';
import { outboxStore } from './store.js';

function randomId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  // client: the ChatClient (its connection, requests and events); store: where the unacked
  // sends are kept (store.js).
  constructor(client, store = outboxStore) {
    this.client = client;
    this.store = store;
    this.items = []; // not acked yet, in the order written
    this.kept = new Set(); // clientMsgIds of the items written to the store: only they are sent
    this.acked = new Map(); // clientMsgId -> item acked but not yet delivered here
  }

  // Before the first connection: the sends this device left unacked (in a tab since closed,
  // or before a reload) are taken up again, ahead of any written since.
  async load() {
    let stored = [];
    try {
      stored = await this.store.load(this.client.session.device);
    } catch (error) {
      console.warn('parley: the outbox could not be read', error);
    }
    const held = new Set(this.items.map((item) => item.clientMsgId));
    const earlier = stored.filter((item) => !held.has(item.clientMsgId));
    for (const item of earlier) this.kept.add(item.clientMsgId);
    this.items = [...earlier, ...this.items];
    this.client.changed();
  }

  // Writes `item` to the store; resolves when it is there (or could not be: it is then sent
  // anyway, as a tab without IndexedDB would).
  keep(item) {
    return this.store.put({ ...item }).then(
      () => this.kept.add(item.clientMsgId),
      (error) => {
        console.warn('parley: the outbox could not be written', error);
        this.kept.add(item.clientMsgId);
      },
    );
  }

  unkeep(clientMsgId) {
    this.kept.delete(clientMsgId);
    this.store.remove(clientMsgId).catch(() => {});
  }

  // target: {channel} or {peer}; replyTo: the seq of the message it replies to ("0": none).
  // The message waits here until the node acks it.
  send(target, text, replyTo = '0') {
    const client = this.client;
    const item = {
      clientMsgId: `${client.session.device}-${randomId()}`,
      device: client.session.device,
      channel: target.channel ?? '0',
      peer: target.peer ?? '0',
      text,
      replyTo: String(replyTo),
      sentAt: Date.now(),
      error: null,
    };
    this.items.push(item);
    client.typing.sent(item.channel);
    // On disk first, then on the wire: a tab closed in between loses nothing.
    this.keep(item).then(() => {
      if (client.welcomed && this.items.includes(item)) this.transmit(item);
    });
    client.changed();
    return item;
  }

  transmit(item) {
    if (item.error || !this.kept.has(item.clientMsgId)) return;
    const client = this.client;
    const id = String(client.nextRequest++);
    client.pending.set(id, { clientMsgId: item.clientMsgId });
    const send = { request: id, channel: item.channel, peer: item.peer, clientMsgId: item.clientMsgId, text: item.text };
    if ((item.replyTo ?? '0') !== '0') send.replyTo = item.replyTo;
    client.transmit({ send });
  }

  // After a welcome: everything not acked goes again, with the same ids.
  resendAll() {
    for (const item of this.items) this.transmit(item);
  }

  resendSoon() {
    clearTimeout(this.resendTimer);
    this.resendTimer = setTimeout(() => {
      if (this.client.welcomed) this.resendAll();
    }, 1000);
  }

  onSendAck(ack) {
    const client = this.client;
    const waiter = client.pending.get(ack.request);
    client.pending.delete(ack.request);
    if (!waiter?.clientMsgId) return;
    const index = this.items.findIndex((item) => item.clientMsgId === waiter.clientMsgId);
    if (index < 0) return;
    const [item] = this.items.splice(index, 1);
    this.unkeep(item.clientMsgId);
    item.channel = ack.channel;
    item.seq = ack.seq; // stored: ✓ (receipts.js) until it reaches the others
    const channel = client.ensureChannel(ack.channel);
    if (!channel.messages.has(ack.seq)) this.acked.set(item.clientMsgId, item);
    if (channel.kind === 'unknown') client.refreshChannelsSoon();
    const detail = { peer: item.peer, channel: ack.channel, duplicate: ack.duplicate === true };
    client.dispatchEvent(new CustomEvent('sent', { detail }));
    client.changed();
  }

  // A refused send stays where it was written, marked with the reason; a send refused only
  // because the node was busy is tried again.
  onRefused(waiter, failure) {
    const client = this.client;
    const item = this.items.find((i) => i.clientMsgId === waiter.clientMsgId);
    if (!item) return;
    if (failure.code === 'overloaded' || failure.code === 'rate_limited') return this.resendSoon();
    item.error = describeSendError(failure.code, failure.message, (item.replyTo ?? '0') !== '0');
    item.code = failure.code;
    this.store.put({ ...item }).catch(() => {}); // still shown, failed, after a reload
    client.notify(item.error);
    client.changed();
  }

  // Our own message came back in a delivery: it is drawn from there now.
  delivered(message) {
    if (message.sender === this.client.me && message.clientMsgId) this.acked.delete(message.clientMsgId);
  }

  // Message `seq` of `channelId` was deleted for everyone: its text goes from here too.
  forget(channelId, seq) {
    for (const [id, item] of this.acked) if (item.channel === channelId && item.seq === seq) this.acked.delete(id);
  }

  // Messages up to `seq` (a BigInt) of `channelId` were cleared for us (a deleted message
  // request, requests.js): our acked ones there go too.
  dropUpTo(channelId, seq) {
    for (const [id, item] of this.acked) if (item.channel === channelId && BigInt(item.seq) <= seq) this.acked.delete(id);
  }

  // Sends still on their way to `channel` (or to `peer` before the 1:1 channel exists).
  outgoing(channelId, peer) {
    const all = [...this.items, ...this.acked.values()];
    return all.filter((item) =>
      channelId ? item.channel === channelId : item.channel === '0' && item.peer === peer,
    );
  }

  dismiss(clientMsgId) {
    this.items = this.items.filter((item) => item.clientMsgId !== clientMsgId);
    this.unkeep(clientMsgId);
    this.client.changed();
  }

  // How many sends are not stored by the node yet (logging out would lose them).
  unsent() {
    return this.items.filter((item) => !item.error).length;
  }
}
