// Editing and deleting messages for everyone (docs/protocol.md, "Editing and deleting";
// docs/web.md, "Editing and deleting"). No DOM.
//
//  - An edit or a delete is a message of its own in the channel's sequence (kind `edited` or
//    `deleted`, `target` the seq of the text it changes), delivered and paged like any other.
//    It is held with the chat's messages (it has a seq: paging, the read position and the
//    newest seq count it), but it is never shown as a message, never counts as unread and
//    never ends a typing indicator.
//  - Applying one changes the target held: an `edited` entry puts its text in place and
//    marks it edited (`editedSeq`), unless the target already shows that edit or a later one
//    or is deleted, or the entry was superseded by a later edit (its own `editedSeq` is not
//    "0", and its text is gone); a `deleted` entry turns the target into a tombstone and drops its text,
//    and the text of every edit of it, from memory (and from the outbox). A target not held
//    changes nothing, but the change is remembered, so a copy of the target that arrives
//    later (a history page asked before the change) still comes out in its newest state.
//  - Any copy of a text message is merged into what is held the same way: deleted beats
//    everything, then the highest `editedSeq` wins.
//  - A reply's quote (replies.js) follows its original: storing a reply, or applying an
//    edit or a delete, brings the quotes held of that message up to date. An edit's
//    `mentions` replace the original's, as its text does.
//  - Who may: the sender edits a text message for 15 minutes after its serverTime and
//    deletes it for 48 hours; a group's admin deletes any message of the group at any time.
//    The node enforces that; here it only decides which actions the page offers.

import { quoteNow, replyToOf, sameQuote } from './replies.js';

const EDIT_WINDOW_MS = 15 * 60 * 1000;
const DELETE_WINDOW_MS = 48 * 60 * 60 * 1000;

const big = (id) => BigInt(id ?? 0);

// True for the entries that change another message instead of being one.
export const isChange = (message) => message.kind === 'edited' || message.kind === 'deleted';

export class Edits {
  // client: the ChatClient (its requests, its outbox, who we are).
  constructor(client) {
    this.client = client;
    // channel id -> Map(target seq -> {edit: the newest `edited` entry held, deleted: bool})
    this.changes = new Map();
  }

  // Puts `message` (delivered, or from a history page) into `channel`, in its newest state.
  // True if it is an edit or a delete (which the caller then leaves alone).
  merge(channel, message) {
    if (!isChange(message)) {
      if (message.kind === 'text') this.store(channel, message);
      else channel.messages.set(message.seq, message);
      return false;
    }
    let changes = this.changes.get(channel.id);
    if (!changes) this.changes.set(channel.id, (changes = new Map()));
    const target = String(message.target ?? '0');
    let known = changes.get(target);
    if (!known) changes.set(target, (known = { edit: null, deleted: false }));
    // An `edited` entry marked deleted: its target was deleted since.
    if (message.kind === 'deleted' || message.deleted === true) known.deleted = true;
    // One superseded by a later edit (its `editedSeq` points ahead, its text is gone) is
    // skipped: the newer one follows in the sequence.
    const newest = big(message.editedSeq) === 0n && big(message.seq) > big(known.edit?.seq);
    if (message.kind === 'edited' && !known.deleted && newest) known.edit = message;
    channel.messages.set(message.seq, known.deleted ? { ...message, text: '' } : message);
    const held = channel.messages.get(target);
    if (held?.kind === 'text') this.store(channel, held);
    else if (known.deleted) this.forget(channel, target);
    this.requote(channel, target);
    return true;
  }

  // Stores text message `message` as the newest of it, the copy held and the changes known.
  store(channel, message) {
    const held = channel.messages.get(message.seq);
    const known = this.changes.get(channel.id)?.get(message.seq);
    if (message.deleted === true || held?.deleted === true || known?.deleted) {
      // Nothing of a deleted text stays: not its mentions, not what it quoted.
      const { quote, ...rest } = message;
      const tombstone = { ...rest, text: '', deleted: true, mentions: [] };
      channel.messages.set(message.seq, tombstone);
      this.forget(channel, message.seq);
      return;
    }
    let newest = message;
    const edit = known?.edit && { text: known.edit.text, editedSeq: known.edit.seq, mentions: known.edit.mentions };
    for (const copy of [held, edit]) {
      if (copy && big(copy.editedSeq) > big(newest.editedSeq)) {
        newest = { ...newest, text: copy.text, editedSeq: String(copy.editedSeq) };
        if (copy.mentions) newest.mentions = copy.mentions;
      }
    }
    channel.messages.set(message.seq, this.quoted(channel, newest));
  }

  // `message` with its quote as of now (replies.js): the same object if that changes nothing.
  quoted(channel, message) {
    const quote = quoteNow(channel, message, this.changes.get(channel.id)?.get(replyToOf(message)));
    return quote === null || sameQuote(quote, message.quote) ? message : { ...message, quote };
  }

  // The replies held to message `target` of `channel` follow what just happened to it.
  requote(channel, target) {
    for (const message of channel.messages.values()) {
      if (message.kind !== 'text' || replyToOf(message) !== target) continue;
      const fresh = this.quoted(channel, message);
      if (fresh !== message) channel.messages.set(message.seq, fresh);
    }
  }

  // Message `seq` of `channel` was deleted for everyone: no text of it stays in memory.
  forget(channel, seq) {
    const known = this.changes.get(channel.id)?.get(seq);
    if (known) known.edit = null;
    for (const message of channel.messages.values()) {
      if (message.kind === 'edited' && String(message.target) === seq && message.text) {
        channel.messages.set(message.seq, { ...message, text: '' });
      }
    }
    this.client.outbox.forget(channel.id, seq);
  }

  // Messages up to `seq` (a BigInt) of `channelId` were cleared for us (a deleted message
  // request, requests.js): the edits remembered for them go too.
  dropUpTo(channelId, seq) {
    const changes = this.changes.get(channelId);
    for (const target of [...(changes?.keys() ?? [])]) if (big(target) <= seq) changes.delete(target);
  }

  // ---- What is shown -------------------------------------------------------------------
  // The messages drawn in `channel`, in seq order: everything but the edits and deletes.
  shown(channel) {
    return this.client.sortedMessages(channel).filter((message) => !isChange(message));
  }

  // The newest message drawn in `channel` (for the chat list's preview), or null.
  last(channel) {
    let last = null;
    for (const message of channel.messages.values()) {
      if (!isChange(message) && (last === null || big(message.seq) > big(last.seq))) last = message;
    }
    return last;
  }

  static edited(message) {
    return message.kind === 'text' && message.deleted !== true && big(message.editedSeq) > 0n;
  }

  // ---- Who may ---------------------------------------------------------------------------
  static age(message) {
    return Date.now() - Number(message.serverTime) / 1000;
  }

  // Our own text, not deleted, in a chat we are still in, within 15 minutes.
  canEdit(channel, message) {
    return (
      message.kind === 'text' &&
      message.deleted !== true &&
      message.sender === this.client.me &&
      channel.active !== false &&
      Edits.age(message) < EDIT_WINDOW_MS
    );
  }

  // Our own text within 48 hours; in a group we are the admin of, anyone's.
  canDelete(channel, message) {
    if (message.kind !== 'text' || message.deleted === true || channel.active === false) return false;
    if (channel.kind === 'group' && channel.admin === this.client.me) return true;
    return message.sender === this.client.me && Edits.age(message) < DELETE_WINDOW_MS;
  }

  // ---- Asking the node ---------------------------------------------------------------------
  // Both resolve at the node's `ok`; the change itself arrives as a delivery, on every device
  // of every member, this one included. Refusals reject with the reason (errors.js).
  edit(channelId, seq, text) {
    return this.client.request('editMessage', { channel: channelId, seq, text });
  }

  remove(channelId, seq) {
    return this.client.request('deleteMessage', { channel: channelId, seq });
  }
}
