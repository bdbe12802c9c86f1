// Receipts coalesced per batch (host/coalesce.hpp): the rewrite itself, and host::Core
// applying it to what a commit or a seal releases.
#include "host/coalesce.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "host/core.hpp"
#include "storage/memory_store.hpp"

namespace parley::host {
namespace {

using engine::ChannelId;
using engine::ConnectionId;
using engine::Effect;
using engine::Effects;
using engine::SendEvent;
using engine::server::Receipt;
using engine::server::ReceiptEntry;
using engine::server::Receipts;

Effect receipt(ConnectionId to, ChannelId channel, ReceiptEntry entry) {
  return SendEvent{to, Receipt{channel, entry}};
}

Effect deliver(ConnectionId to) {
  return SendEvent{to, engine::server::Deliver{}};
}

// A readable line per effect: "5 receipt 9 3:4/4", "5 receipts 9 [2:4/0 3:5/0]", "5 other".
std::vector<std::string> shape(const Effects& effects) {
  const auto entry = [](const ReceiptEntry& e) {
    return std::to_string(e.user) + ":" + std::to_string(e.delivered_seq) + "/" +
           std::to_string(e.read_seq);
  };
  std::vector<std::string> lines;
  for (const Effect& effect : effects) {
    const auto* send = std::get_if<SendEvent>(&effect);
    if (send == nullptr) {
      lines.push_back("not sent");
      continue;
    }
    std::string line = std::to_string(send->connection) + " ";
    if (const auto* one = std::get_if<Receipt>(&send->event)) {
      line += "receipt " + std::to_string(one->channel) + " " + entry(one->entry);
    } else if (const auto* many = std::get_if<Receipts>(&send->event)) {
      line +=
          "receipts " + std::to_string(many->request) + " " + std::to_string(many->channel) + " [";
      for (std::size_t i = 0; i < many->entries.size(); ++i)
        line += (i == 0 ? "" : " ") + entry(many->entries[i]);
      line += "]";
    } else {
      line += "other";
    }
    lines.push_back(line);
  }
  return lines;
}

TEST(CoalesceReceipts, OneReceiptPerConnectionAndChannelStaysAsItIs) {
  Effects effects{receipt(5, 9, {3, 4, 4}), receipt(6, 9, {3, 4, 4}), receipt(5, 10, {3, 1, 0}),
                  deliver(5)};
  const auto before = shape(effects);
  coalesce_receipts(effects);
  EXPECT_EQ(shape(effects), before);
}

TEST(CoalesceReceipts, SeveralBecomeOneReceiptsAtTheLastOnesPlaceWithEachMembersNewest) {
  Effects effects{receipt(5, 9, {3, 4, 4}),
                  deliver(5),
                  receipt(6, 9, {3, 4, 4}),  // another connection: its own
                  receipt(5, 9, {2, 4, 0}),
                  receipt(5, 9, {3, 5, 0}),  // user 3 again: read no longer shared
                  engine::CloseConnection{7, engine::CloseReason::logged_out}};
  coalesce_receipts(effects);
  EXPECT_EQ(shape(effects), (std::vector<std::string>{"5 other", "6 receipt 9 3:4/4",
                                                      "5 receipts 0 9 [2:4/0 3:5/0]", "not sent"}));
}

TEST(CoalesceReceipts, OneMembersMovesBecomeOneReceiptWithTheNewest) {
  Effects effects{receipt(5, 9, {3, 4, 0}), deliver(5), receipt(5, 9, {3, 4, 4})};
  coalesce_receipts(effects);
  EXPECT_EQ(shape(effects), (std::vector<std::string>{"5 other", "5 receipt 9 3:4/4"}));
}

// bob's read (5) was told, then bob turned read receipts off, then alice's query answer says
// his read is 0, then dave acked: the read must not land after the answer and override it.
TEST(CoalesceReceipts, AnAnswerToQueryReceiptsEndsTheSpanThatMerges) {
  Effects effects{receipt(5, 9, {2, 5, 5}),
                  receipt(5, 9, {3, 5, 0}),
                  SendEvent{5, Receipts{77, 9, {{2, 5, 0}, {3, 5, 0}, {4, 4, 0}}}},
                  receipt(5, 9, {4, 5, 0}),
                  receipt(5, 9, {6, 5, 0}),
                  SendEvent{6, Receipts{78, 9, {}}},  // another connection's answer
                  receipt(5, 9, {7, 5, 0})};
  coalesce_receipts(effects);
  EXPECT_EQ(shape(effects), (std::vector<std::string>{
                                "5 receipts 0 9 [2:5/5 3:5/0]",
                                "5 receipts 77 9 [2:5/0 3:5/0 4:4/0]",
                                "6 receipts 78 9 []",
                                "5 receipts 0 9 [4:5/0 6:5/0 7:5/0]",
                            }));
}

TEST(CoalesceReceipts, LeavesHttpCallersAndAnswersToQueriesAlone) {
  Effects effects{receipt(0, 9, {3, 4, 4}), receipt(0, 9, {2, 4, 4}),
                  SendEvent{5, Receipts{77, 9, {{2, 1, 1}}}}, receipt(5, 9, {2, 2, 2})};
  const auto before = shape(effects);
  coalesce_receipts(effects);
  EXPECT_EQ(shape(effects), before);
}

// Through the core: alice's message reaches bob, carol and dave, whose acks share one batch.
class CoreCoalescing : public ::testing::Test {
 protected:
  void SetUp() override {
    core_.open(0);
    core_.begin(1);
    channel_ = core_.provision([&](engine::Engine& engine, engine::TimeUs) {
      std::vector<engine::UserId> others;
      for (int i = 0; i < 4; ++i) {
        const auto user = std::get<engine::UserId>(engine.create_user("u" + std::to_string(i), 0));
        const auto device = std::get<engine::DeviceId>(engine.add_device(user, "d", 0));
        engine.handle(engine::Connected{static_cast<ConnectionId>(i + 1), device, 0}, 0);
        if (i > 0) others.push_back(user);
      }
      auto created =
          engine.handle(engine::Received{1, engine::client::CreateGroup{1, "team", others}}, 0);
      return std::get<engine::server::GroupCreated>(std::get<SendEvent>(created[0]).event).channel;
    });
    core_.commit();
    core_.begin(2);
    for (const Effect& effect :
         core_.run(engine::Received{1, engine::client::Send{2, channel_, 0, "m1", "hello"}})) {
      const auto* send = std::get_if<SendEvent>(&effect);
      if (send == nullptr || send->connection == 1) continue;  // alice's own copy
      if (const auto* d = std::get_if<engine::server::Deliver>(&send->event))
        acks_.push_back(
            engine::Received{send->connection, engine::client::Ack{d->entries.back().inbox_seq}});
    }
    core_.commit();
    ASSERT_EQ(acks_.size(), 3u) << "bob, carol and dave each got the message";
  }

  // Alice's frames among `effects`.
  static std::vector<std::string> to_alice(const Effects& effects) {
    std::vector<std::string> lines;
    for (const std::string& line : shape(effects))
      if (line.starts_with("1 ")) lines.push_back(line);
    return lines;
  }

  storage::MemoryStore store_;
  Core core_{store_, {}};
  ChannelId channel_ = 0;
  std::vector<engine::Input> acks_;
};

TEST_F(CoreCoalescing, ACommitReleasesOneReceiptsForTheAcksOfABatch) {
  core_.begin(3);
  std::size_t told = 0;
  for (const engine::Input& ack : acks_) {
    for (const Effect& effect : core_.run(ack)) {
      const auto* send = std::get_if<SendEvent>(&effect);
      told +=
          send != nullptr && send->connection == 1 && std::holds_alternative<Receipt>(send->event);
    }
  }
  EXPECT_EQ(told, 3u) << "the engine tells alice of each ack";
  const std::string channel = std::to_string(channel_);
  EXPECT_EQ(to_alice(core_.commit()),
            (std::vector<std::string>{"1 receipts 0 " + channel + " [2:2/0 3:2/0 4:2/0]"}));
}

TEST_F(CoreCoalescing, ASealedBatchIsCoalescedToo) {
  core_.begin(3);
  for (const engine::Input& ack : acks_)
    core_.run(ack);
  core_.seal();
  const auto durable = core_.take_durable();
  ASSERT_EQ(durable.size(), 1u);
  const std::string channel = std::to_string(channel_);
  EXPECT_EQ(to_alice(durable[0].effects),
            (std::vector<std::string>{"1 receipts 0 " + channel + " [2:2/0 3:2/0 4:2/0]"}));
}

}  // namespace
}  // namespace parley::host
