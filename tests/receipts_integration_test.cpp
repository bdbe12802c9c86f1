// Receipts over a real node on loopback: the acks of a group that land in one commit reach
// the sender as one coalesced `receipts` frame (request 0), in both encodings
// (docs/protocol.md, "Receipts"; host/coalesce.hpp).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using engine::ChannelId;
using engine::UserId;
namespace server = engine::server;

class GroupReceipts : public ::testing::TestWithParam<net::Encoding> {};

TEST_P(GroupReceipts, AcksThatShareACommitReachTheSenderAsOneReceiptsFrame) {
  // Commits at least 250 ms apart: the three acks of alice's message, sent within
  // milliseconds of its delivery, wait for the same commit.
  NodeProcess node({"--commit-interval-us", "250000"});
  const std::vector<std::string> names{"alice", "bob", "carol", "dave"};
  std::vector<Account> accounts;
  for (const std::string& name : names) {
    sign_up(node, name);
    accounts.push_back(log_in(node, name));
  }
  std::vector<std::unique_ptr<Device>> devices;
  for (const Account& account : accounts)
    devices.push_back(std::make_unique<Device>(node, account, 0, GetParam()));
  Device& alice = *devices[0];
  const engine::RequestId create = alice.next_request();
  alice.send(engine::client::CreateGroup{
      create, "team", {accounts[1].user, accounts[2].user, accounts[3].user}});
  const auto created = alice.reply(create);
  ASSERT_TRUE(std::holds_alternative<server::GroupCreated>(created));
  const ChannelId group = std::get<server::GroupCreated>(created).channel;
  for (auto& device : devices)
    device->receive_until(1);  // the group's first event, acked

  const auto sent = alice.send_message(group, 0, "m1", "hello, team");
  for (std::size_t i = 1; i < devices.size(); ++i) {
    devices[i]->receive_until(2);  // and acked at once
    ASSERT_EQ(devices[i]->entries.size(), 2u);
  }
  alice.others.clear();
  alice.settle(1500);

  std::vector<server::ReceiptEntry> told;
  std::size_t frames = 0;
  for (const server::Event& event : alice.others) {
    if (const auto* one = std::get_if<server::Receipt>(&event); one && one->channel == group) {
      ++frames;
      told.push_back(one->entry);
    } else if (const auto* many = std::get_if<server::Receipts>(&event);
               many && many->channel == group) {
      EXPECT_EQ(many->request, 0u) << "alice asked nothing";
      ++frames;
      told.insert(told.end(), many->entries.begin(), many->entries.end());
    }
  }
  EXPECT_EQ(frames, 1u) << "one frame for the three acks of one commit";
  ASSERT_EQ(told.size(), 3u);
  for (std::size_t i = 0; i < told.size(); ++i) {
    EXPECT_EQ(told[i].user, accounts[i + 1].user) << "ascending user id";
    EXPECT_EQ(told[i].delivered_seq, sent.seq);
    EXPECT_EQ(told[i].read_seq, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, GroupReceipts,
                         ::testing::Values(net::Encoding::json, net::Encoding::binary),
                         [](const ::testing::TestParamInfo<net::Encoding>& tested) {
                           return tested.param == net::Encoding::json ? "json" : "binary";
                         });

}  // namespace
}  // namespace parley::testing
