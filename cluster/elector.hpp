// The election half of a cluster member (docs/cluster.md, "Leader and followers"), without
// threads or clocks: one round at a time, at a monotonic time the caller passes in. The
// node's elector thread runs a round every period (net/node/cluster_member.cpp) and the
// simulator runs one per simulated period (sim/world_cluster.cpp), so both follow the same
// rules:
//   - a member campaigns only when `ready` (its replica caught up with the log): a leader
//     that must first replay a long tail would serve nobody meanwhile;
//   - the leader renews its lease every round; a renewal that says the lease expired ends
//     leadership at once;
//   - when the log cannot be reached, leadership is kept until a whole TTL passed since the
//     last renewal (the lease has surely expired on etcd by then). Nothing relies on this
//     local timer for safety: a deposed leader's appends are fenced by the log whatever its
//     clock says (the simulator's `lease_skew` fault exercises exactly that);
//   - a step-down request (a batch the log refused) resigns the lease at the next round, and
//     that round does not campaign again, so another member gets its chance.
//
// Not thread-safe: one thread (or the simulator) runs the rounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "host/replicated_log.hpp"

namespace parley::cluster {

enum class ElectionEvent {
  none,
  won,            // this member now leads with `token`
  lease_expired,  // the renewal said the lease is gone: leadership ended
  unreachable,    // the log was unreachable for a whole TTL: leadership ended
  stepped_down,   // a step-down request was honoured: the lease was resigned
};
const char* to_string(ElectionEvent event);

struct ElectionRound {
  ElectionEvent event = ElectionEvent::none;
  std::uint64_t token = 0;  // the token led after the round (0: none)
  std::string detail;       // for `unreachable`: the log's error
};

class Elector {
 public:
  // REQUIRES: `log` outlives the elector. `ttl_seconds` > 0 (etcd leases are whole seconds).
  Elector(host::ReplicatedLog& log, std::string name, std::int64_t ttl_seconds);

  // How often a member runs a round: a quarter of the TTL, between 100 and 500 ms, so a
  // lease is renewed several times before it could expire.
  static std::int64_t period_us(std::int64_t ttl_seconds);

  // One round at monotonic time `now_us`. `give_up`: a token the member asks to resign (0:
  // none); ignored unless it is the token held. Never throws: an unreachable log is an
  // event, not an error.
  ElectionRound round(std::int64_t now_us, bool ready, std::uint64_t give_up);

  std::uint64_t token() const { return leadership_ ? leadership_->token : 0; }
  const std::optional<host::Leadership>& leadership() const { return leadership_; }
  const std::string& name() const { return name_; }
  // Resigns the lease if one is held (a clean stop); ignores an unreachable log.
  void resign();

 private:
  host::ReplicatedLog& log_;
  std::string name_;
  std::int64_t ttl_us_;
  std::optional<host::Leadership> leadership_;
  std::int64_t renewed_us_ = 0;  // the last renewal (or the win)
};

}  // namespace parley::cluster
