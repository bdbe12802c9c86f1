// Delivery and read receipts (docs/engine.md, rule 19).
//
// Each member of a channel has two positions there (ReceiptRecord): delivered_seq moves when
// one of their devices acks inbox entries of the channel (sync.cpp calls note_delivered),
// read_seq when they say MarkRead. Unread counts follow read_seq: each message counted
// unread has an unread_entries key until a MarkRead passes it. A move is told, as a
// server::Receipt, to the active members who sent a text message the move passed (the senders who
// see ✓✓ or "read" change: in a 1:1 chat, the peer), and a read to the reader's other live devices,
// which is how read positions sync. Read positions are shared only between two users who both keep
// read receipts on (as in WhatsApp, turning them off hides others' too); delivery is always shared.
#include <algorithm>
#include <map>

#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

bool shares_reads(const Records& records, UserId user) {
  return records.settings(user).read_receipts;
}

// A user's reads in a chat that is a message request for them tell no one (rule 22): the
// sender of a request is not told it was seen.
bool shares_reads_in(const Records& records, ChannelId channel, UserId user) {
  if (!shares_reads(records, user)) return false;
  const auto member = records.member(channel, user);
  return !member || !member->request;
}

bool active_member(const Records& records, ChannelId channel, UserId user) {
  const auto member = records.member(channel, user);
  return member && member->state == MemberState::active;
}

// The most messages a move walks to learn whose messages it passed. A longer move (a
// markRead catching up on a long chat) reads the members' rows instead: at most 100 in a
// group, against a walk that would grow with the chat.
constexpr Seq kMaxWalk = 256;

// What a move tells one sender: that it passed a message of theirs.
struct News {
  bool delivery = false;
  bool read = false;
};

// The senders of the text messages a move of `mover`'s positions (before -> after) passed,
// besides the mover. Walking the messages keeps an ack's cost independent of the group's
// size (one message passed, one row read), where reading every member's row per ack made a
// group message cost members² rows (bench/RESULTS.md, BM_Fanout/100).
std::map<UserId, News> senders_passed(const Records& records, ChannelId channel, UserId mover,
                                      const ReceiptRecord& before, const ReceiptRecord& after) {
  std::map<UserId, News> news;
  // The span of seqs either position moved over (a position that did not move adds none).
  const bool delivery_moved = after.delivered_seq > before.delivered_seq;
  const bool read_moved = after.read_seq > before.read_seq;
  if (!delivery_moved && !read_moved) return news;
  const Seq first = std::min(delivery_moved ? before.delivered_seq : before.read_seq,
                             read_moved ? before.read_seq : before.delivered_seq) +
                    1;
  const Seq last = std::max(after.delivered_seq, after.read_seq);
  const auto passes = [](Seq seq, Seq from, Seq to) { return seq > from && seq <= to; };
  if (last - first < kMaxWalk) {
    for (const MessageRecord& message : records.messages(channel, first, last)) {
      if (message.kind != MessageKind::text || message.sender == mover) continue;
      News& told = news[message.sender];
      told.delivery |= passes(message.seq, before.delivered_seq, after.delivered_seq);
      told.read |= passes(message.seq, before.read_seq, after.read_seq);
    }
    std::erase_if(news,
                  [](const auto& item) { return !item.second.delivery && !item.second.read; });
    return news;
  }
  // From the rows, a member whose newest message is past the move may have had none in it:
  // they are told too (one frame too many, never one too few).
  for (const auto& [member, row] : records.receipts_of(channel)) {
    if (member == mover || row.last_sent_seq == 0) continue;
    const News told{
        row.last_sent_seq > before.delivered_seq && after.delivered_seq > before.delivered_seq,
        row.last_sent_seq > before.read_seq && after.read_seq > before.read_seq};
    if (told.delivery || told.read) news[member] = told;
  }
  return news;
}

// Tells the active members whose messages a move of `mover`'s positions (before -> after)
// passed: a delivery move always, a read move only when both share reads.
void tell_senders(State& state, ChannelId channel, UserId mover, const ReceiptRecord& before,
                  const ReceiptRecord& after, Effects& out) {
  const Records& records = state.records;
  const bool mover_shares = shares_reads_in(records, channel, mover);
  for (const auto& [member, news] : senders_passed(records, channel, mover, before, after)) {
    if (!state.connections_by_user.contains(member)) continue;
    const bool shared = mover_shares && shares_reads(records, member);
    if (!news.delivery && !shared) continue;
    if (!active_member(records, channel, member)) continue;
    const server::ReceiptEntry entry{mover, after.delivered_seq, shared ? after.read_seq : 0};
    send_to_user(state, member, server::Receipt{channel, entry}, out);
  }
}

// The reader's own devices learn their read position (all but the one that moved it).
void sync_own_devices(State& state, ChannelId channel, UserId user, const ReceiptRecord& now,
                      ConnectionId except, Effects& out) {
  const auto found = state.connections_by_user.find(user);
  if (found == state.connections_by_user.end()) return;
  const server::Receipt event{channel, {user, now.delivered_seq, now.read_seq}};
  for (ConnectionId id : found->second) {
    if (id != except) out.push_back(SendEvent{id, event});
  }
}

// The last seq `member` may read in `channel`, if they ever were a member.
std::optional<Seq> readable_upto(const Records& records, const ChannelRecord& channel,
                                 UserId user) {
  const auto member = records.member(channel.id, user);
  if (!member) return std::nullopt;
  return member->state == MemberState::active ? channel.last_seq : member->left_seq;
}

}  // namespace

void count_unread(State& state, UserId user, ChannelId channel, Seq seq) {
  state.records.put_unread_entry(user, channel, seq);
  state.records.add_unread(user, channel, 1);
  state.records.add_unread(user, 0, 1);
  check_unread(state, user);
}

void note_sent(State& state, ChannelId channel, UserId sender, Seq seq) {
  ReceiptRecord row = state.records.receipt(channel, sender);
  row.last_sent_seq = seq;
  state.records.put_receipt(channel, sender, row);
}

void note_delivered(State& state, UserId user, const std::vector<InboxRef>& entries, Effects& out) {
  std::map<ChannelId, Seq> newest;  // per channel, the highest seq these entries hold
  for (const InboxRef& entry : entries) {
    Seq& seq = newest[entry.message.channel];
    seq = std::max(seq, entry.message.seq);
  }
  for (const auto& [channel, seq] : newest) {
    ReceiptRecord row = state.records.receipt(channel, user);
    if (seq <= row.delivered_seq) continue;
    const ReceiptRecord before = row;
    row.delivered_seq = seq;
    state.records.put_receipt(channel, user, row);
    tell_senders(state, channel, user, before, row, out);
  }
}

void handle(Context& context, const client::MarkRead& mark) {
  Records& records = context.records;
  const auto channel = records.channel(mark.channel);
  if (!channel) return context.fail(mark.request, unknown_channel(mark.channel));
  const auto upto = readable_upto(records, *channel, context.user());
  if (!upto) return context.fail(mark.request, not_a_member(mark.channel));
  if (mark.seq == 0 || mark.seq > *upto) {
    return context.fail(mark.request,
                        {ErrorCode::bad_request, "seq " + std::to_string(mark.seq) +
                                                     " is not between 1 and the last seq you "
                                                     "may read in this channel, " +
                                                     std::to_string(*upto)});
  }
  ReceiptRecord row = records.receipt(mark.channel, context.user());
  if (mark.seq > row.read_seq) {
    const auto read = static_cast<std::int64_t>(
        records.take_unread_entries(context.user(), mark.channel, mark.seq));
    if (read != 0) {
      records.add_unread(context.user(), mark.channel, -read);
      records.add_unread(context.user(), 0, -read);
      check_unread(context.state, context.user());
    }
    const ReceiptRecord before = row;
    row.read_seq = mark.seq;
    row.delivered_seq = std::max(row.delivered_seq, mark.seq);  // seen, so stored somewhere
    records.put_receipt(mark.channel, context.user(), row);
    tell_senders(context.state, mark.channel, context.user(), before, row, context.out);
    sync_own_devices(context.state, mark.channel, context.user(), row, context.connection_id,
                     context.out);
  }
  context.reply(server::Ok{mark.request});
}

void handle(Context& context, const client::QueryReceipts& query) {
  const auto channel = member_channel(context, query.request, query.channel);
  if (!channel) return;
  const Records& records = context.records;
  const bool asker_shares = shares_reads(records, context.user());
  server::Receipts answer{query.request, query.channel, {}};
  for (UserId member : records.active_members(query.channel)) {
    const ReceiptRecord row = records.receipt(query.channel, member);
    const bool shown = member == context.user() ||
                       (asker_shares && shares_reads_in(records, query.channel, member));
    answer.entries.push_back({member, row.delivered_seq, shown ? row.read_seq : 0});
  }
  context.reply(std::move(answer));
}

void handle(Context& context, const client::Settings& settings) {
  UserSettings current = context.records.settings(context.user());
  if (settings.read_receipts && *settings.read_receipts != current.read_receipts) {
    current.read_receipts = *settings.read_receipts;
    context.records.put_settings(context.user(), current);
    send_to_other_devices(context, server::Settings{0, current.read_receipts});
  }
  context.reply(server::Settings{settings.request, current.read_receipts});
}

}  // namespace parley::engine::detail
