// Every request's engine cost and answer size is bounded by a limit the server chose: pages
// for lists that grow with a user's history (channels, unread counts, history bytes), caps
// for what a user may accumulate (group memberships), and requests whose work does not grow
// with what the asker accumulated (presence queries).
#include <algorithm>

#include "tests/harness.hpp"

namespace parley::testing {
namespace {

// Counts what the engine reads: every get and every entry a scan visits.
class CountingStore final : public Store {
 public:
  explicit CountingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  void begin() override { inner_->begin(); }
  void commit() override { inner_->commit(); }
  void abort() override { inner_->abort(); }
  bool in_transaction() const override { return inner_->in_transaction(); }
  std::optional<std::string> get(Table table, std::string_view key) const override {
    ++reads;
    return inner_->get(table, key);
  }
  void put(Table table, std::string_view key, std::string_view value) override {
    inner_->put(table, key, value);
  }
  void erase(Table table, std::string_view key) override { inner_->erase(table, key); }
  void scan(Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& visit) const override {
    inner_->scan(table, from, to, reverse, [&](std::string_view key, std::string_view value) {
      ++reads;
      return visit(key, value);
    });
  }
  mutable std::uint64_t reads = 0;

 private:
  std::unique_ptr<Store> inner_;
};

template <typename T>
T answer(const server::Event& event) {
  EXPECT_TRUE(std::holds_alternative<T>(event)) << describe(event);
  return std::holds_alternative<T>(event) ? std::get<T>(event) : T{};
}

// `count` users who each send `to` one message: `to` ends up in `count` 1:1 channels, each
// with one unread message.
void strangers_write_to(Harness& h, UserId to, int count) {
  for (int i = 0; i < count; ++i) {
    const UserId stranger = h.user("stranger" + std::to_string(i));
    h.befriend(to, stranger);  // a contact's message counts unread (rule 22)
    h.stateless(stranger, h.device(stranger),
                client::Send{1, 0, to, "c" + std::to_string(i), "hello"});
  }
}

TEST(Bounds, ListChannelsComesInPages) {
  Harness h;
  const UserId alice = h.user("alice");
  const ConnectionId a = h.connect(h.device(alice));
  std::vector<ChannelId> made;
  for (int i = 0; i < 120; ++i)
    made.push_back(h.create_group(a, "g" + std::to_string(i), {}));

  std::vector<ChannelId> listed;
  ChannelId after = 0;
  int pages = 0;
  for (bool more = true; more; ++pages) {
    const auto page = answer<server::ChannelList>(h.group_op(a, client::ListChannels{0, after}));
    ASSERT_LE(page.channels.size(), limits::kDefaultChannelPage);
    ASSERT_FALSE(page.channels.empty());
    for (const auto& summary : page.channels)
      listed.push_back(summary.channel);
    after = page.channels.back().channel;
    more = page.more;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);  // 50 + 50 + 20
  EXPECT_EQ(listed, made);

  const auto big = answer<server::ChannelList>(
      h.group_op(a, client::ListChannels{0, 0, limits::kMaxChannelPage}));
  EXPECT_EQ(big.channels.size(), limits::kMaxChannelPage);
  EXPECT_TRUE(big.more);
  EXPECT_EQ(error_code(h.group_op(a, client::ListChannels{0, 0, 0})), ErrorCode::invalid_limit);
  EXPECT_EQ(error_code(h.group_op(a, client::ListChannels{0, 0, limits::kMaxChannelPage + 1})),
            ErrorCode::invalid_limit);
  // Past the last channel: an empty page, nothing more.
  const auto past =
      answer<server::ChannelList>(h.group_op(a, client::ListChannels{0, made.back()}));
  EXPECT_TRUE(past.channels.empty());
  EXPECT_FALSE(past.more);
}

TEST(Bounds, GroupMembershipsPerUserAreLimited) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId b = h.connect(h.device(bob));
  ChannelId first = 0;
  for (std::size_t i = 0; i < limits::kMaxGroupsPerUser; ++i) {
    const ChannelId group = h.create_group(a, "g" + std::to_string(i), {});
    if (i == 0) first = group;
  }
  // Alice is in 1,000 groups: she cannot make another, be a founder of one, or be added.
  EXPECT_EQ(error_code(h.group_op(a, client::CreateGroup{0, "one more", {}})),
            ErrorCode::too_many_groups);
  EXPECT_EQ(error_code(h.group_op(b, client::CreateGroup{0, "with alice", {alice}})),
            ErrorCode::too_many_groups);
  const ChannelId bobs = h.create_group(b, "bob's", {});
  const auto fingerprint = h.fingerprint();
  EXPECT_EQ(error_code(h.group_op(b, client::AddMember{0, bobs, alice})),
            ErrorCode::too_many_groups);
  EXPECT_EQ(h.fingerprint(), fingerprint);  // a refusal stores nothing
  // Leaving one makes room again.
  ASSERT_TRUE(std::holds_alternative<server::Ok>(h.group_op(a, client::LeaveGroup{0, first})));
  EXPECT_TRUE(std::holds_alternative<server::Ok>(h.group_op(b, client::AddMember{0, bobs, alice})));
  EXPECT_EQ(error_code(h.group_op(a, client::CreateGroup{0, "one more", {}})),
            ErrorCode::too_many_groups);
}

TEST(Bounds, HistoryPagesStopAtTheByteBudget) {
  EngineConfig config;
  config.history_page_bytes = 1000;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  ChannelId channel = 0;
  for (int i = 0; i < 10; ++i)
    channel = ack_of(h.send_to(a, bob, std::string(300, static_cast<char>('a' + i)))).channel;

  const auto seqs = [](const server::HistoryPage& page) {
    std::vector<Seq> out;
    for (const auto& message : page.messages)
      out.push_back(message.seq);
    return out;
  };
  // 300 bytes each: the fourth reaches 1,000 bytes and ends the page.
  const auto newest =
      answer<server::HistoryPage>(h.group_op(a, client::History{0, channel, 0, 100}));
  EXPECT_EQ(seqs(newest), (std::vector<Seq>{7, 8, 9, 10}));
  EXPECT_TRUE(newest.has_more);
  const auto middle =
      answer<server::HistoryPage>(h.group_op(a, client::History{0, channel, 7, 100}));
  EXPECT_EQ(seqs(middle), (std::vector<Seq>{3, 4, 5, 6}));
  EXPECT_TRUE(middle.has_more);
  const auto oldest =
      answer<server::HistoryPage>(h.group_op(a, client::History{0, channel, 3, 100}));
  EXPECT_EQ(seqs(oldest), (std::vector<Seq>{1, 2}));
  EXPECT_FALSE(oldest.has_more);

  // One message over the budget still comes, alone.
  ack_of(h.send_to(a, bob, std::string(5000, 'z')));
  const auto big = answer<server::HistoryPage>(h.group_op(a, client::History{0, channel, 0, 100}));
  EXPECT_EQ(seqs(big), (std::vector<Seq>{11}));
  EXPECT_TRUE(big.has_more);
}

TEST(Bounds, UnreadCountsComeInPages) {
  Harness h;
  const UserId alice = h.user("alice");
  const ConnectionId a = h.connect(h.device(alice));
  const int senders = static_cast<int>(limits::kMaxUnreadPage) + 2;
  strangers_write_to(h, alice, senders);

  const auto first = answer<server::UnreadCounts>(h.group_op(a, client::QueryUnread{}));
  EXPECT_EQ(first.total, static_cast<std::uint64_t>(senders));
  ASSERT_EQ(first.channels.size(), limits::kMaxUnreadPage);
  EXPECT_TRUE(first.more);
  const auto rest = answer<server::UnreadCounts>(
      h.group_op(a, client::QueryUnread{0, first.channels.back().first}));
  EXPECT_EQ(rest.total, static_cast<std::uint64_t>(senders));
  ASSERT_EQ(rest.channels.size(), 2u);
  EXPECT_FALSE(rest.more);
  EXPECT_GT(rest.channels.front().first, first.channels.back().first);
}

// A presence query looks at the asker's active groups only (at most 1,000), never at every
// channel they were ever in: 1:1 channels from strangers cost it nothing.
TEST(Bounds, PresenceQueryCostDoesNotGrowWithTheAskersChannels) {
  auto owned = std::make_unique<CountingStore>(make_test_store());
  CountingStore& store = *owned;
  Harness h(std::move(owned), EngineConfig{});
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  h.create_group(a, "pair", {bob});

  const auto cost = [&] {
    const std::uint64_t before = store.reads;
    const auto list = answer<server::PresenceList>(h.group_op(a, client::QueryPresence{0, {bob}}));
    EXPECT_EQ(list.entries.size(), 1u);
    return store.reads - before;
  };
  const std::uint64_t small = cost();
  strangers_write_to(h, alice, 600);
  const std::uint64_t large = cost();
  EXPECT_LT(large, small + 20) << "small " << small << ", after 600 channels " << large;
}

// Stores written before the user_groups index existed get it built when the engine opens.
TEST(Bounds, TheGroupIndexIsBuiltForOlderStores) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const UserId carol = h.user("carol");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId c = h.connect(h.device(carol));
  const ChannelId one = h.create_group(a, "one", {bob, carol});
  h.create_group(c, "two", {alice});
  ASSERT_TRUE(std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, one, bob})));
  ack_of(h.send_to(a, bob, "a 1:1 channel is no group"));
  const auto expected = h.fingerprint();
  EXPECT_EQ(h.read([&](Records& r) { return r.active_groups(alice, 10); }).size(), 2u);

  // Forget the index, as an older build never wrote it.
  Store& store = h.store();
  store.begin();
  std::vector<std::string> keys;
  store.scan(Table::user_groups, "", "", false, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  for (const auto& key : keys)
    store.erase(Table::user_groups, key);
  store.erase(Table::meta, "user_groups_index");
  store.commit();
  ASSERT_NE(h.fingerprint(), expected);

  Engine reopened(store);
  store.begin();
  reopened.open();
  store.commit();
  EXPECT_EQ(h.fingerprint(), expected);
}

}  // namespace
}  // namespace parley::testing
