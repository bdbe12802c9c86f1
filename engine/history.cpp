#include "engine/history.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/context.hpp"

namespace parley::engine {

server::HistoryPage history_page(const Records& records, const client::History& history,
                                 const ChannelRecord& channel, const MemberRecord& member,
                                 std::size_t max_bytes) {
  auto windows = member.earlier;
  windows.emplace_back(member.joined_seq,
                       member.state == MemberState::active ? channel.last_seq : member.left_seq);
  const Seq end = history.before_seq == 0 ? UINT64_MAX : history.before_seq;  // exclusive
  server::HistoryPage page{history.request, history.channel, {}, false};
  std::size_t room = history.limit;
  std::size_t bytes = max_bytes;
  std::vector<std::vector<MessageRecord>> parts;  // newest window first
  for (auto window = windows.rbegin(); window != windows.rend(); ++window) {
    const Seq from = std::max<Seq>(window->first, 1);
    const Seq to = std::min(window->second, end - 1);
    if (to < from) continue;
    if (room == 0 || bytes == 0) {
      page.has_more = true;
      break;
    }
    const Seq first = to - from + 1 > room ? to - room + 1 : from;
    auto part = records.messages_back(history.channel, first, to, bytes);
    room -= std::min(room, part.size());
    for (const MessageRecord& message : part)
      bytes -= std::min(bytes, message.text.size());
    const bool cut = part.empty() || part.front().seq > from;
    parts.push_back(std::move(part));
    if (cut) {
      page.has_more = true;
      break;
    }
  }
  for (auto part = parts.rbegin(); part != parts.rend(); ++part)
    page.messages.insert(page.messages.end(), part->begin(), part->end());
  return page;
}

namespace detail {

void handle(Context& context, const client::History& history) {
  if (history.limit == 0 || history.limit > limits::kMaxHistoryPage) {
    return context.fail(
        history.request,
        {ErrorCode::invalid_limit,
         "a history page holds 1 to " + std::to_string(limits::kMaxHistoryPage) + " messages"});
  }
  const auto channel = context.records.channel(history.channel);
  if (!channel) return context.fail(history.request, unknown_channel(history.channel));
  const auto member = context.records.member(history.channel, context.user());
  if (!member) return context.fail(history.request, not_a_member(history.channel));
  // Only the member's windows: nothing before they joined, nor while they were out (rule 8).
  auto page = history_page(context.records, history, *channel, *member,
                           context.state.config.history_page_bytes);
  for (Message& message : page.messages)
    present(context.records, context.user(), message);
  context.reply(std::move(page));
}

}  // namespace detail

}  // namespace parley::engine
