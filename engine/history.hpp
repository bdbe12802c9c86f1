// What a member may read of a channel's history: their membership windows (docs/engine.md,
// rule 8). Internal to engine/; history.cpp also answers client::History.
#pragma once

#include <cstddef>

#include "engine/protocol.hpp"
#include "engine/records.hpp"

namespace parley::engine {

// A page of `history` for a user whose membership of `channel` is `member`: up to
// `history.limit` messages with seq < before_seq, newest first within `max_bytes` of text (at
// least one message), returned ascending, drawn only from the member's windows: from the
// event that added them to the one that removed them, or to the newest message while they
// are in. Nothing before they first joined, nothing while they were out. `has_more` says an
// older readable message exists.
server::HistoryPage history_page(const Records& records, const client::History& history,
                                 const ChannelRecord& channel, const MemberRecord& member,
                                 std::size_t max_bytes);

}  // namespace parley::engine
