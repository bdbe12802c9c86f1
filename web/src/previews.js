// The chat list's previews for chats this device holds nothing of (docs/web.md, "The chat
// list"). After a reload or on a new device, messages come from `history` as chats are
// opened, so a chat not opened yet would show no last message and have no time to be
// sorted by. Each such chat's newest entries are asked with `history{beforeSeq: "0"}`:
//
//  - a few entries (the newest may be an edit or a delete, which changes an older message),
//  - a few requests at a time, newest chats first, each chat once per page load (again only
//    if its request failed), and at most PREVIEW_CHATS chats per page load, so a person in
//    a thousand groups does not send a thousand requests at every start;
//  - the entries are merged as a history page's are; the chat is not marked loaded, so
//    opening it still asks its newest page of 30.

const PREVIEW_PAGE = 4;
const PREVIEW_AT_ONCE = 4;
const PREVIEW_CHATS = 300;

const big = (id) => BigInt(id ?? 0);

export class Previews {
  // client: the ChatClient (its channels, requests, edits and change events).
  constructor(client) {
    this.client = client;
    this.asked = new Set(); // channel ids asked for (or queued) in this page load
    this.queue = [];
    this.running = 0;
  }

  // After each channelList: queues the chats that hold nothing yet.
  load() {
    const wanted = [...this.client.channels.values()]
      .filter((c) => c.kind !== 'unknown' && !c.loaded && c.messages.size === 0 && !this.asked.has(c.id))
      .sort((a, b) => (big(b.id) > big(a.id) ? 1 : -1));
    for (const channel of wanted) {
      if (this.asked.size >= PREVIEW_CHATS) break;
      this.asked.add(channel.id);
      this.queue.push(channel.id);
    }
    while (this.running < PREVIEW_AT_ONCE && this.queue.length > 0) this.fetch(this.queue.shift());
  }

  async fetch(channelId) {
    const client = this.client;
    const channel = client.channels.get(channelId);
    this.running += 1;
    try {
      // A chat opened meanwhile gets its newest messages from its own history page.
      if (channel && !channel.loaded && !channel.loading) {
        const page = await client.request('history', { channel: channelId, beforeSeq: '0', limit: PREVIEW_PAGE });
        for (const message of page.messages) client.edits.merge(channel, message);
        client.changed();
      }
    } catch {
      this.asked.delete(channelId); // not connected: asked again after the next channelList
    } finally {
      this.running -= 1;
      if (this.queue.length > 0) this.fetch(this.queue.shift());
    }
  }
}
