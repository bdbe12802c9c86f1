// Searching messages (docs/protocol.md, "Search"; docs/web.md, "Search"). No DOM.
//
//  - A search is one `search{request, query, offset, limit}` frame, answered by
//    `searchResults{request, hits, more}` or by a `failure` naming its request id. The node
//    scopes it to what this user may read; the client only asks and shows.
//  - Only the answer to the request asked last counts. Typing forgets the request on its way
//    (its answer, for an older query than the box holds, is dropped when it comes), and so
//    does closing the search; the hits already shown stay until the new answer replaces them.
//  - Paging: while `more` is true, the next page is asked with `offset` = the hits received
//    so far (all of them, shown or not), and appended. The node takes offsets up to 1,000.
//  - The answer may be older than what was delivered before it: a hit for a message this
//    client knows was deleted for everyone (or cleared with a deleted request) is not shown,
//    and one deleted while the results are up goes at the next draw.

export const SEARCH_PAGE = 20; // hits a page
const MAX_OFFSET = 1000;
const MAX_QUERY_BYTES = 256;
const HISTORY_MIN = 30; // the fewest messages a history request for an opened result asks
const HISTORY_MAX = 100; // the most one history request may ask (docs/protocol.md)

const encoder = new TextEncoder();

// What the box's `text` asks the node: trimmed, and cut to the 256 bytes of UTF-8 a query
// may hold (on a character's edge). '' means no search.
export function searchQuery(text) {
  const query = String(text ?? '').trim();
  if (encoder.encode(query).length <= MAX_QUERY_BYTES) return query;
  const points = [...query];
  while (encoder.encode(points.join('')).length > MAX_QUERY_BYTES) points.pop();
  return points.join('').trim();
}

const key = (hit) => `${hit.channel}:${hit.seq}`;

export class Search {
  // client: the ChatClient (its requests, and what it holds of each chat).
  constructor(client) {
    this.client = client;
    this.reset();
  }

  // No search: the chat list shows.
  reset() {
    this.query = ''; // what the box asks now ('' for nothing)
    this.shownFor = ''; // the query the hits answer
    this.hits = []; // in the node's order, best first
    this.more = false; // another page can be asked
    this.received = 0; // hits the node sent for this query: the next page's offset
    this.state = 'idle'; // 'idle', 'searching' (waiting to ask, or for the answer), 'done', 'failed'
    this.error = null; // the failure's code while 'failed'
    this.failedOffset = 0; // the offset of the page that failed (Try again asks it again)
    this.asking = null; // {id, query, offset}: the request whose answer counts
  }

  get active() {
    return this.query !== '';
  }

  // The box holds `text` now. True if that changes the query (the caller asks after a pause);
  // the answer to a request already on its way no longer counts.
  typed(text) {
    const query = searchQuery(text);
    if (query === this.query) return false;
    if (!query) {
      this.reset();
      return true;
    }
    this.query = query;
    this.asking = null;
    this.state = 'searching';
    this.error = null;
    return true;
  }

  // Asks the first page for the query in the box.
  run() {
    if (this.active) this.ask(0);
  }

  // Asks the next page, appended to what is shown.
  loadMore() {
    if (this.active && this.more && !this.asking && this.shownFor === this.query) this.ask(this.received);
  }

  // After a failure: asks the page that failed again.
  retry() {
    if (this.state === 'failed') this.ask(this.failedOffset);
  }

  ask(offset) {
    const query = this.query;
    const { id, answer } = this.client.ask('search', { query, offset, limit: SEARCH_PAGE });
    const asking = { id, query, offset };
    this.asking = asking;
    this.state = 'searching';
    this.error = null;
    this.client.changed();
    answer.then(
      (body) => {
        if (this.asking !== asking) return; // stale: the box changed, or a newer request went out
        this.asking = null;
        this.apply(query, offset, body);
        this.client.changed();
      },
      (error) => {
        if (this.asking !== asking) return;
        this.asking = null;
        if (offset === 0) {
          // The first page failed: nothing is shown of this query, nor of the one before.
          this.hits = [];
          this.more = false;
          this.received = 0;
          this.shownFor = query;
        }
        this.state = 'failed';
        this.error = error.code ?? error.message ?? 'unknown';
        this.failedOffset = offset;
        this.client.changed();
      },
    );
  }

  apply(query, offset, body) {
    const hits = body.hits ?? [];
    if (offset === 0 || this.shownFor !== query) {
      this.hits = [];
      this.received = 0;
    }
    // A message that moved between pages (newer ones ranked in meanwhile) is shown once.
    const held = new Set(this.hits.map(key));
    for (const hit of hits) if (!held.has(key(hit))) this.hits.push(hit);
    this.received = offset + hits.length;
    this.more = body.more === true && hits.length > 0 && this.received <= MAX_OFFSET;
    this.shownFor = query;
    this.state = 'done';
  }

  // Loads older pages of chat `channelId` until message `seq` (an opened result) is held.
  // Each asks for the gap down to it (at most 100 messages), and no more than `most`
  // messages are asked in all. The pages go on from the oldest message held, so the chat
  // stays one run of messages from the newest. True if the message is held then.
  async reach(channelId, seq, most = 2000) {
    const client = this.client;
    const channel = client.channels.get(channelId);
    let asked = 0;
    while (channel && !channel.messages.has(seq) && asked < most && client.welcomed) {
      if (channel.loading) {
        await channel.loading; // the newest page, asked when the chat opened
        continue;
      }
      if (channel.loaded && !channel.hasMore) break;
      const oldest = client.sortedMessages(channel)[0]?.seq ?? channel.lastSeq ?? '0';
      const gap = Number(BigInt(oldest) - BigInt(seq)) + 1;
      const limit = Math.min(HISTORY_MAX, Math.max(HISTORY_MIN, gap));
      asked += limit;
      await client.loadOlder(channelId, limit);
    }
    return !!channel?.messages.has(seq);
  }

  // The hits to show: those whose message is not known to be gone.
  shown() {
    return this.hits.filter((hit) => !this.gone(hit));
  }

  // True if this client knows message `hit` was deleted for everyone, or cleared for us with
  // a deleted message request.
  gone(hit) {
    const client = this.client;
    if (client.requests.isCleared(hit)) return true;
    if (client.channels.get(hit.channel)?.messages.get(hit.seq)?.deleted === true) return true;
    return client.edits.changes.get(hit.channel)?.get(hit.seq)?.deleted === true;
  }
}
