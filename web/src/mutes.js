// Muting chats (docs/protocol.md, "Muting"; docs/web.md, "Muting"). No DOM.
//
//  - A chat is muted until a time (`mutedUntil`, the node's clock in µs since the Unix
//    epoch) or forever. The state comes from channelList summaries (`mutedUntil`,
//    `mutedForever`), from the `channelMute` answering our own `muteChannel`, and from a
//    `channelMute` with request "0" when another of our devices (un)muted the chat.
//  - A timed mute ends by itself: the node sends nothing then, so a timer redraws the page
//    when the earliest mutedUntil passes, compared with this computer's clock.
//  - A mute only stops pushes (the node's business); messages still arrive and count as
//    unread here.

const big = (id) => BigInt(id ?? 0);
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's ceiling (24.8 days): a longer wait is taken in steps

export const HOUR_US = 3_600_000_000n;

// Now on this computer's clock, in the node's unit (µs since the Unix epoch).
export const nowUs = () => BigInt(Date.now()) * 1000n;

export class Mutes {
  // client: the ChatClient (its requests and change events).
  constructor(client) {
    this.client = client;
    this.state = new Map(); // channel id -> {until: BigInt µs (0n: none), forever: bool}
    this.timer = null;
  }

  // ---- What is known --------------------------------------------------------------------------
  // A channelList summary: the mute as the node keeps it.
  onSummary(summary) {
    this.set(summary.channel, summary.mutedUntil, summary.mutedForever === true);
  }

  // `channelMute`: the answer to our muteChannel, or (request "0") a change on another device.
  apply(mute) {
    this.set(mute.channel, mute.mutedUntil, mute.forever === true);
    this.client.changed();
  }

  set(channelId, until, forever) {
    if (!forever && big(until) === 0n) this.state.delete(channelId);
    else this.state.set(channelId, { until: forever ? 0n : big(until), forever });
    this.schedule();
  }

  // The mute of `channelId` now: null when it is not muted (or its time has passed), else
  // {forever} or {until} (µs since the Unix epoch).
  of(channelId) {
    const mute = this.state.get(channelId);
    if (!mute) return null;
    if (mute.forever) return { forever: true, until: 0n };
    return mute.until > nowUs() ? { forever: false, until: mute.until } : null;
  }

  muted(channelId) {
    return this.of(channelId) !== null;
  }

  // One timer for the earliest timed mute still running: when it ends, the page redraws
  // (without its bell) and the timer is set for the next one.
  schedule() {
    clearTimeout(this.timer);
    const now = nowUs();
    let next = null;
    for (const mute of this.state.values()) {
      if (!mute.forever && mute.until > now && (next === null || mute.until < next)) next = mute.until;
    }
    if (next === null) return;
    const wait = Math.min(MAX_TIMER_MS, Number((next - now) / 1000n) + 50);
    this.timer = setTimeout(() => {
      this.schedule();
      this.client.changed();
    }, wait);
  }

  stop() {
    clearTimeout(this.timer);
  }

  // ---- Asking the node ---------------------------------------------------------------------
  // Mutes `channelId` for `forUs` µs (a BigInt) or `forever`; with neither, unmutes it.
  // Resolves once the node answered, with the state it answered applied.
  async mute(channelId, { forUs = null, forever = false } = {}) {
    const fields = { channel: channelId };
    if (forever) fields.forever = true;
    else if (forUs !== null) fields.forUs = forUs.toString();
    const answer = await this.client.request('muteChannel', fields);
    this.apply(answer);
    return answer;
  }

  unmute(channelId) {
    return this.mute(channelId);
  }
}
