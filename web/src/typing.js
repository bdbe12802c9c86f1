// Typing indicators (docs/protocol.md, "Typing indicators"; docs/web.md): live only. What
// others type is held in memory with a timer per person, and never stored; what this person
// types goes out as fire-and-forget `typing` frames.

const TYPING_REFRESH_MS = 3000; // a start is repeated this often while the person types
const TYPING_TTL_MS = 6000; // used when a typing frame names no ttlUs
const TYPING_REQUESTS_HELD = 32; // ids of recent typing frames, to recognise their failures

export class Typing {
  // client: the ChatClient (its connection, names and change events).
  constructor(client) {
    this.client = client;
    this.shown = new Map(); // channel id -> Map(user id -> expiry timer): who types there
    this.out = null; // {channel, at}: the chat this person types in, and its last start
    this.requests = new Map(); // request id -> channel, for typing frames sent lately
  }

  // The connection dropped: no stop can reach us while disconnected, so start over from
  // nobody typing. Our own typing starts afresh (a start at once) at the first keystroke
  // after the reconnect.
  reset() {
    for (const typists of this.shown.values()) for (const timer of typists.values()) clearTimeout(timer);
    this.shown.clear();
    this.out = null;
    this.requests.clear();
  }

  // The composer of `channelId` now holds `text` (called on every input event). A start goes
  // out at the first keystroke and then at most once per TYPING_REFRESH_MS while typing goes
  // on; a stop when the composer becomes empty. A chat without a channel yet (a first message
  // to a contact) sends nothing.
  composing(channelId, text) {
    if (!channelId || channelId === '0') return;
    if (text.trim() === '') {
      if (this.out?.channel !== channelId) return;
      this.out = null;
      this.transmit(channelId, false);
      return;
    }
    const now = Date.now();
    if (this.out?.channel === channelId && now - this.out.at < TYPING_REFRESH_MS) return;
    if (this.transmit(channelId, true)) this.out = { channel: channelId, at: now };
  }

  // Opening `channelId` (or none): leaving a chat with something written in it, the others
  // there stop seeing "typing".
  leaving(channelId) {
    if (this.out && this.out.channel !== channelId) this.composing(this.out.channel, '');
  }

  // A message went to `channelId`: the node ends the indicator at the message, and the next
  // keystroke starts anew.
  sent(channelId) {
    if (channelId !== '0' && this.out?.channel === channelId) this.out = null;
  }

  // Fire and forget: a typing frame has no answer unless it is refused, so it leaves no
  // pending promise. Its id is kept (the last few only) so that a refusal is recognised.
  transmit(channelId, typing) {
    const client = this.client;
    if (!client.welcomed) return false;
    const id = String(client.nextRequest++);
    this.requests.set(id, channelId);
    if (this.requests.size > TYPING_REQUESTS_HELD) this.requests.delete(this.requests.keys().next().value);
    return client.transmit({ typing: { request: id, channel: channelId, typing } });
  }

  // True if `failure` refuses one of our typing frames (a block, a chat just left): nothing
  // to show the person.
  refused(failure) {
    if (!this.requests.delete(failure.request)) return false;
    console.debug(`typing refused: ${failure.code} ${failure.message ?? ''}`);
    return true;
  }

  onEvent(event) {
    const client = this.client;
    if (event.user === client.me) return; // not echoed, but a stray one must not show
    if (!event.typing) {
      if (this.stop(event.channel, event.user)) client.changed();
      return;
    }
    let typists = this.shown.get(event.channel);
    if (!typists) this.shown.set(event.channel, (typists = new Map()));
    const known = typists.has(event.user);
    clearTimeout(typists.get(event.user));
    const ttl = event.ttlUs ? Number(event.ttlUs) / 1000 : TYPING_TTL_MS;
    typists.set(
      event.user,
      setTimeout(() => {
        if (this.stop(event.channel, event.user)) client.changed();
      }, ttl),
    );
    if (!client.names.has(event.user)) client.refreshChannelsSoon();
    if (!known) client.changed(); // a refresh of someone already shown changes nothing drawn
  }

  // A message arrived in its channel: one from a typist ends their indicator (a live one: a
  // backlog message, caught up after a reconnect, is older than what they type now); so does
  // leaving or being removed.
  onMessage(message, live) {
    if (live) this.stop(message.channel, message.sender);
    if (message.kind === 'member_left' || message.kind === 'member_removed') {
      for (const user of message.users ?? []) this.stop(message.channel, user);
    }
  }

  // Hides `user`'s indicator in `channelId`; true if one was shown.
  stop(channelId, user) {
    const typists = this.shown.get(channelId);
    if (!typists?.has(user)) return false;
    clearTimeout(typists.get(user));
    typists.delete(user);
    if (typists.size === 0) this.shown.delete(channelId);
    return true;
  }

  // Who is typing in `channelId`, in the order they started.
  typists(channelId) {
    return [...(this.shown.get(channelId)?.keys() ?? [])];
  }
}
