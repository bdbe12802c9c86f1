// Replies (docs/protocol.md, "Replies and mentions"; docs/web.md, "Replies"). No DOM.
//
//  - A reply is a text message with `replyTo`, the seq of the text message of the same chat
//    it answers. Each copy the node serves carries a `quote`: the original as it looked to
//    this reader at that moment (sender, text cut to 200 code points, edited, deleted, or
//    unavailable when the reader may not read it).
//  - The node fills a quote only when it serves the reply, so a quote already held here
//    would go stale when its original is edited or deleted later. Edits (edits.js) calls
//    `quoteNow` for every reply it stores and for every held reply to a message it changes:
//    the quote then reads as the original does now. A deleted original's text goes from
//    the quotes too (nothing of a deleted text stays in memory).
//  - Where the original is held, it is the newest state known (edits.js merges every copy
//    and change into it); where it is not, the changes known for it apply to the quote.

export const QUOTE_CODE_POINTS = 200;

const big = (id) => BigInt(id ?? 0);

export const replyToOf = (message) => String(message?.replyTo ?? '0');
export const isReply = (message) => big(message?.replyTo) !== 0n;

// The first `points` code points of `text` (a quote never splits a character in two).
export function cut(text, points = QUOTE_CODE_POINTS) {
  const all = [...(text ?? '')];
  return all.length > points ? all.slice(0, points).join('') : (text ?? '');
}

// The quote of text message `original` (held here), as the node would serve it now: a
// deleted message keeps its `editedSeq`, so "edited" stays true after a delete.
export function quoteOf(original) {
  const deleted = original.deleted === true;
  return {
    sender: original.sender,
    text: deleted ? '' : cut(original.text),
    edited: big(original.editedSeq) > 0n,
    deleted,
    unavailable: false,
  };
}

// The quote of reply `reply` in `channel` as of now: from the original if held, else the
// node's quote with `known` ({edit, deleted}: the changes held for the original) applied.
// Null for a message that is no reply.
export function quoteNow(channel, reply, known) {
  if (!isReply(reply)) return null;
  const quote = reply.quote ?? null;
  if (quote?.unavailable) return quote; // nothing of it may be shown, whatever happens to it
  const original = channel.messages.get(replyToOf(reply));
  if (original?.kind === 'text') return quoteOf(original);
  if (!quote) return null;
  if (known?.deleted || quote.deleted) return { ...quote, text: '', edited: quote.edited || !!known?.edit, deleted: true };
  if (known?.edit) return { ...quote, text: cut(known.edit.text), edited: true };
  return quote;
}

// True if `a` and `b` say the same (the message is then left as it is).
export const sameQuote = (a, b) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a !== undefined &&
    b !== undefined &&
    a.sender === b.sender &&
    a.text === b.text &&
    a.edited === b.edited &&
    a.deleted === b.deleted &&
    a.unavailable === b.unavailable);
