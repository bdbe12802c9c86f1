// Presence rules 1-4 (contacts, heartbeats, presence fanout, last_active_at) are pinned by
// tests/transcripts/presence_*.txt. What the transcripts cannot see stays here: describe()
// prints no Welcome's heartbeat cadence.
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kSecond = 1'000'000;

// Welcome tells the client how often to heartbeat and how long the node waits for one.
TEST(Presence, WelcomeTellsTheHeartbeatCadence) {
  Harness h;
  const ConnectionId a = h.connect(h.device(h.user("alice")));
  const auto& welcome = std::get<server::Welcome>(h.events(a).at(0));
  EXPECT_EQ(welcome.heartbeat_interval_us, 5 * kSecond);
  EXPECT_EQ(welcome.presence_timeout_us, 30 * kSecond);
}

}  // namespace
}  // namespace parley::testing
