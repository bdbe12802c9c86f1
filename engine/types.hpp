// Identifiers, limits and error codes shared by the engine and its hosts.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace parley::engine {

using UserId = std::uint64_t;
using DeviceId = std::uint64_t;
using ChannelId = std::uint64_t;
using Seq = std::uint64_t;       // position in one channel's sequence, from 1
using InboxSeq = std::uint64_t;  // position in one user's inbox, from 1
using ConnectionId = std::uint64_t;
using RequestId = std::uint64_t;  // chosen by the client, echoed in replies
using TimeUs = std::int64_t;      // microseconds; the host decides the epoch

// A message id is (channel, seq): per-channel sequences are the only order that matters.
struct MessageId {
  ChannelId channel = 0;
  Seq seq = 0;
  friend bool operator==(const MessageId&, const MessageId&) = default;
};

namespace limits {
// A message has fewer than 100,000 code points (docs/engine.md, rule 4).
inline constexpr std::size_t kMaxMessageCodePoints = 99'999;
// Groups hold at most 100 members, the creator included.
inline constexpr std::size_t kMaxGroupMembers = 100;
inline constexpr std::size_t kMaxGroupNameCodePoints = 100;
inline constexpr std::size_t kMaxHistoryPage = 100;
inline constexpr std::size_t kMaxClientMsgIdBytes = 64;
inline constexpr std::size_t kMaxUserNameBytes = 32;
inline constexpr std::size_t kMaxDeviceLabelCodePoints = 64;
inline constexpr std::size_t kMaxContacts = 5'000;
inline constexpr std::size_t kMaxDevicesPerUser = 64;
inline constexpr std::size_t kMaxPresenceQuery = 100;
// Groups a user is an active member of at once (Telegram: 500, or 1,000 with Premium).
inline constexpr std::size_t kMaxGroupsPerUser = 1'000;
// Channels per listChannels page: the default and the most a client may ask for.
inline constexpr std::uint32_t kDefaultChannelPage = 50;
inline constexpr std::uint32_t kMaxChannelPage = 100;
// Non-zero channel counts per unreadCounts answer; past it the answer says `more`.
inline constexpr std::size_t kMaxUnreadPage = 500;
inline constexpr std::size_t kPushPreviewCodePoints = 120;
// A reply's quote carries this much of the original's text (rule 21): enough for the two
// lines a quote block shows, without a reply of a long message doubling a delivery.
inline constexpr std::size_t kQuoteCodePoints = 200;
// Distinct @words of one text looked up as member names (rule 21): a group has at most
// kMaxGroupMembers members to name, and a hostile text cannot cost more reads than this.
inline constexpr std::size_t kMaxMentionNames = 2 * kMaxGroupMembers;
// The longest timed mute (rule 21): a year, leap day included; longer is `forever`. (The
// bad_request message says "366 days".)
inline constexpr std::int64_t kMaxMuteUs = 366LL * 24 * 3'600'000'000;
inline constexpr std::size_t kMaxPushTokenBytes = 4'096;
// Search (docs/search.md): a query is at most 256 bytes (the index uses its first 16
// words); a page holds at most 50 hits, and paging stops 1,000 hits deep: ranked search is
// for finding, not for exporting, and a deep OFFSET costs the index every skipped hit.
inline constexpr std::size_t kMaxSearchQueryBytes = 256;
inline constexpr std::uint32_t kMaxSearchPage = 50;
inline constexpr std::uint32_t kMaxSearchOffset = 1'000;
// Typing indicators (docs/engine.md, rule 18): a client repeats typing = true every
// kTypingRefreshUs while its user types; the engine forwards a refresh of a shown indicator
// at most once per (channel, user) per kTypingMinGapUs (less than the refresh, so a refresh
// delayed or hurried by the network still goes through), and starts after stops at that
// rate too (two at once); receivers hide an indicator not renewed within
// kTypingTtlUs (two refreshes: one lost frame does not make it flicker). Signal's figures
// are 10 s and 15 s; chat feels livelier with shorter ones.
inline constexpr std::int64_t kTypingRefreshUs = 3'000'000;
inline constexpr std::int64_t kTypingMinGapUs = 2'000'000;
inline constexpr std::int64_t kTypingTtlUs = 6'000'000;
static_assert(kMaxGroupMembers >= 2, "a group must hold its creator and someone else");
}  // namespace limits

// Stable error codes: clients match on these strings (see docs/protocol.md); never renumber
// or rename one, only add.
enum class ErrorCode : std::uint16_t {
  bad_request = 1,
  not_authenticated,
  unknown_user,
  unknown_device,
  unknown_channel,
  not_a_member,
  not_a_group,
  not_admin,
  already_member,
  group_full,
  invalid_name,
  name_taken,
  invalid_utf8,
  message_empty,
  message_too_long,
  invalid_client_msg_id,
  invalid_limit,
  invalid_cursor,
  invalid_ack,
  blocked,
  not_visible,
  too_many_contacts,
  invalid_push_token,
  // Raised by the production node's network layer, never by the engine itself.
  malformed_frame,   // a frame that does not decode (Cap'n Proto or JSON)
  hello_required,    // a request before the connection's hello
  rate_limited,      // too many frames per second on this connection
  overloaded,        // the node's queues are full; retry later
  unauthorized,      // missing, unknown or expired token; wrong password
  weak_password,     // sign-up password outside the documented rules
  too_many_devices,  // a user has at most limits::kMaxDevicesPerUser devices
  too_many_groups,   // a user is in at most limits::kMaxGroupsPerUser groups at once
  not_leader,        // a cluster node that does not lead now: go through /v1/discover
  // Edits and deletes (docs/engine.md, rule 20).
  unknown_message,   // no text message with that seq the user may read in the channel
  not_your_message,  // an edit of another's message, or their delete by a non-admin
  too_late,          // the edit or delete window of the message has closed
  message_deleted,   // an edit of a message deleted for everyone
  // Search (docs/search.md), raised by the host that runs the index.
  search_unavailable,  // the node's search index failed this query; retry later
};

// The highest code: codes run from bad_request (1) to it without gaps. engine/types.cpp
// checks it against to_string's switch, so a new code must move it (see covers_exactly).
inline constexpr ErrorCode kLastErrorCode = ErrorCode::search_unavailable;

std::string_view to_string(ErrorCode code);
// The code named by `text` (as to_string spells it), if any.
std::optional<ErrorCode> error_code_from_string(std::string_view text);

// The user name rule: 1 to limits::kMaxUserNameBytes of a-z A-Z 0-9 _ - ., starting with a
// letter or digit. Hosts check names from clients with it before any lookup.
bool valid_user_name(std::string_view name);
// A user name's key in user_names: ASCII letters folded to lower case, so names are unique
// regardless of case ("Bob" and "bob" are one name) while UserRecord keeps the spelling.
std::string fold_user_name(std::string_view name);

// A duration for people, in the largest whole unit that divides it: "48 hours", "15 minutes",
// "1 minute", "30 seconds", "250 ms", "7 µs" (failure messages name configured windows with it).
std::string describe_duration(TimeUs us);

struct Error {
  ErrorCode code = ErrorCode::bad_request;
  std::string message;
};

// Thrown when an engine invariant is violated: a bug, never bad input. The host must stop
// the node rather than run on (the transaction is aborted, nothing is released).
class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Always on, in every build: a broken invariant stops the node instead of corrupting state.
// Keep the condition cheap; checks that cost a scan go behind EngineConfig::check_invariants.
#define PARLEY_ASSERT(condition)                                                     \
  do {                                                                               \
    if (!(condition)) {                                                              \
      throw ::parley::engine::InvariantViolation(std::string(__FILE__) + ":" +       \
                                                 std::to_string(__LINE__) +          \
                                                 ": assertion failed: " #condition); \
    }                                                                                \
  } while (false)

// Whether the engine's costly self-checks (EngineConfig::check_invariants) are on unless a
// host says otherwise: in Debug builds. The unit tests turn them on in every build.
#ifdef NDEBUG
inline constexpr bool kChecksByDefault = false;
#else
inline constexpr bool kChecksByDefault = true;
#endif

// True when `named` (a switch over every enumerator of Enum, false for any other value)
// names each value from `first` to `last` and not the one after `last`. Each kLast...
// constant sits next to a static_assert of this, so an enumerator added past the old last
// one fails to compile until kLast... moves with it (the switch must name it: -Wswitch warns
// about a switch that does not), and every range check built on kLast... covers it.
template <typename Enum, typename Named>
constexpr bool covers_exactly(Enum first, Enum last, Named named) {
  using Raw = std::underlying_type_t<Enum>;
  for (auto raw = static_cast<std::uint64_t>(first); raw <= static_cast<std::uint64_t>(last);
       ++raw) {
    if (!named(static_cast<Enum>(static_cast<Raw>(raw)))) return false;
  }
  return !named(static_cast<Enum>(static_cast<Raw>(static_cast<std::uint64_t>(last) + 1)));
}

}  // namespace parley::engine
