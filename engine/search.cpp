// Search (docs/search.md): the engine checks a search and scopes it to what the asker may
// read; the host runs it on its index. And the index's share of each commit: the texts a
// send or an edit stored, and the ones a delete removed (IndexText, UnindexText).
#include <string>

#include "engine/context.hpp"
#include "engine/utf8.hpp"

namespace parley::engine::detail {
namespace {

std::optional<Error> check_search(const client::Search& search) {
  if (search.limit == 0 || search.limit > limits::kMaxSearchPage) {
    return Error{ErrorCode::invalid_limit,
                 "a search page holds 1 to " + std::to_string(limits::kMaxSearchPage) + " hits"};
  }
  if (search.offset > limits::kMaxSearchOffset) {
    return Error{ErrorCode::bad_request, "search pages go " +
                                             std::to_string(limits::kMaxSearchOffset) +
                                             " hits deep at most: narrow the query"};
  }
  if (search.query.empty() || search.query.size() > limits::kMaxSearchQueryBytes) {
    return Error{
        ErrorCode::bad_request,
        "a search query is 1 to " + std::to_string(limits::kMaxSearchQueryBytes) + " bytes"};
  }
  if (!utf8_code_points(search.query)) {
    return Error{ErrorCode::invalid_utf8, "the search query is not valid UTF-8"};
  }
  return std::nullopt;
}

// Every window of every channel `user` is or was in (rule 8): the earlier ones, then the
// current one up to the newest seq while a member, or up to the leave. A 1:1 request the
// user deleted starts its window after what it cleared (rule 22), so that is left out too.
std::vector<SearchWindow> windows_of(const Records& records, UserId user) {
  std::vector<SearchWindow> windows;
  for (ChannelId id : records.channels_of(user)) {
    const auto member = records.member(id, user);
    const auto channel = records.channel(id);
    if (!member || !channel) continue;
    auto add = [&](Seq from, Seq to) {
      from = std::max<Seq>(from, 1);
      if (from <= to) windows.push_back({id, from, to});
    };
    for (const auto& [from, to] : member->earlier)
      add(from, to);
    add(member->joined_seq,
        member->state == MemberState::active ? channel->last_seq : member->left_seq);
  }
  return windows;
}

}  // namespace

void handle(Context& context, const client::Search& search) {
  if (auto error = check_search(search)) return context.fail(search.request, *error);
  context.out.push_back(SearchRequested{context.connection_id, search.request, search.query,
                                        search.offset, search.limit,
                                        windows_of(context.records, context.user())});
}

void index_text(Context& context, const MessageRecord& message) {
  context.out.push_back(
      IndexText{message.channel, message.seq, message.sender, message.server_time, message.text});
}

void unindex_text(Context& context, const MessageRecord& message) {
  context.out.push_back(UnindexText{message.channel, message.seq});
}

}  // namespace parley::engine::detail
