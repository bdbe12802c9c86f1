// Rules 1 and 2: accounts, devices, and the deterministic 1:1 channel.
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

TEST(Accounts, UsersHaveUniqueValidNames) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  EXPECT_NE(alice, bob);

  h.store().begin();
  auto taken = h.engine().create_user("alice", 0);
  auto empty = h.engine().create_user("", 0);
  auto spaces = h.engine().create_user("a b", 0);
  auto too_long = h.engine().create_user(std::string(33, 'x'), 0);
  auto leading_dot = h.engine().create_user(".x", 0);
  h.store().commit();
  EXPECT_EQ(std::get<Error>(taken).code, ErrorCode::name_taken);
  EXPECT_EQ(std::get<Error>(empty).code, ErrorCode::invalid_name);
  EXPECT_EQ(std::get<Error>(spaces).code, ErrorCode::invalid_name);
  EXPECT_EQ(std::get<Error>(too_long).code, ErrorCode::invalid_name);
  EXPECT_EQ(std::get<Error>(leading_dot).code, ErrorCode::invalid_name);
  EXPECT_EQ(h.read([](Records& r) { return r.user_by_name("bob"); }), bob);
}

// Rule 1: names are unique regardless of case, and keep the spelling their user chose.
TEST(Accounts, NamesAreUniqueRegardlessOfCase) {
  Harness h;
  const UserId bob = h.user("Bob");
  h.store().begin();
  auto lower = h.engine().create_user("bob", 0);
  auto upper = h.engine().create_user("BOB", 0);
  h.store().commit();
  ASSERT_TRUE(std::holds_alternative<Error>(lower));
  EXPECT_EQ(std::get<Error>(lower).code, ErrorCode::name_taken);
  ASSERT_TRUE(std::holds_alternative<Error>(upper));
  EXPECT_EQ(std::get<Error>(upper).code, ErrorCode::name_taken);
  for (const char* spelling : {"Bob", "bob", "BOB", "bOb"})
    EXPECT_EQ(h.read([&](Records& r) { return r.user_by_name(spelling); }), bob) << spelling;
  EXPECT_EQ(h.read([&](Records& r) { return r.user(bob)->name; }), "Bob");
}

// A name outside the rule names nobody, and never reaches the store as a key: LMDB refuses an
// empty key or one over 511 bytes, which must not surface as a store failure.
TEST(Accounts, LookupsOfInvalidNamesFindNobody) {
  Harness h;
  h.user("alice");
  for (const std::string& name :
       {std::string(), std::string(33, 'a'), std::string(600, 'a'), std::string("a b"),
        std::string("al\0ce", 5), std::string(".alice"), std::string("al\xc3\xa9")}) {
    EXPECT_EQ(h.read([&](Records& r) { return r.user_by_name(name); }), std::nullopt)
        << name.size() << " bytes";
  }
}

// Stores written before names were folded keep working: on open, every name is re-keyed by
// its folded form; of two names that fold alike the older account keeps the name and the
// younger still logs in with its exact spelling; neither spelling can be taken again.
TEST(Accounts, StoresFromBeforeFoldingAreMigratedOnOpen) {
  Harness h;
  const UserId older = h.user("Bob");
  const UserId carol = h.user("Carol");
  const auto counter = [](UserId id) { return std::string{'\x01', static_cast<char>(id)}; };
  h.store().begin();
  Records records(h.store());
  const UserId younger = records.allocate_id("user");
  records.put_user({younger, "bob", 0});
  // The layout before folding: user_names keyed by the exact spelling.
  for (const char* key : {"bob", "carol"})
    h.store().erase(Table::user_names, key);
  h.store().put(Table::user_names, "Bob", counter(older));
  h.store().put(Table::user_names, "Carol", counter(carol));
  h.store().put(Table::user_names, "bob", counter(younger));
  h.store().erase(Table::meta, "user_names_folded");
  h.store().commit();

  Engine reopened(h.store());
  h.store().begin();
  reopened.open();
  h.store().commit();
  const auto find = [&](const char* name) {
    return h.read([&](Records& r) { return r.user_by_name(name); });
  };
  EXPECT_EQ(find("Bob"), older);
  EXPECT_EQ(find("BOB"), older);
  EXPECT_EQ(find("bob"), younger);
  EXPECT_EQ(find("carol"), carol);
  EXPECT_EQ(find("CAROL"), carol);
  h.store().begin();
  auto taken = reopened.create_user("boB", 0);
  h.store().commit();
  ASSERT_TRUE(std::holds_alternative<Error>(taken));
  EXPECT_EQ(std::get<Error>(taken).code, ErrorCode::name_taken);
}

TEST(Accounts, EachDeviceHasItsOwnIdentity) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId phone = h.device(alice, "phone");
  const DeviceId laptop = h.device(alice, "laptop");
  const DeviceId bobs = h.device(bob);
  EXPECT_NE(phone, laptop);
  EXPECT_NE(laptop, bobs);
  EXPECT_EQ(h.read([&](Records& r) { return r.devices_of(alice); }),
            (std::vector<DeviceId>{phone, laptop}));
  EXPECT_EQ(h.read([&](Records& r) { return r.device(laptop)->user; }), alice);

  h.store().begin();
  auto orphan = h.engine().add_device(999, "ghost", 0);
  h.store().commit();
  EXPECT_EQ(std::get<Error>(orphan).code, ErrorCode::unknown_user);
}

TEST(Accounts, UnknownDeviceCannotConnect) {
  Harness h;
  const ConnectionId c = h.connect(42);
  EXPECT_EQ(error_code(h.events(c).at(0)), ErrorCode::unknown_device);
  EXPECT_EQ(h.closes(c), std::vector<CloseReason>{CloseReason::unknown_device});
  EXPECT_EQ(h.engine().connection_count(), 0u);
}

TEST(Accounts, UnboundConnectionIsNotAuthenticated) {
  Harness h;
  const UserId bob = h.user("bob");
  const std::string before = h.fingerprint();
  const auto reply = h.send_to(77, bob, "hello");
  EXPECT_EQ(error_code(reply), ErrorCode::not_authenticated);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST(DirectChannels, SameChannelWhicheverSideStarts) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const UserId carol = h.user("carol");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId b = h.connect(h.device(bob));

  const auto first = ack_of(h.send_to(b, alice, "bob starts"));
  const auto second = ack_of(h.send_to(a, bob, "alice answers"));
  EXPECT_EQ(first.channel, second.channel);
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(second.seq, 2u);

  const auto other = ack_of(h.send_to(a, carol, "hi carol"));
  EXPECT_NE(other.channel, first.channel);
  EXPECT_EQ(other.seq, 1u);
  // The channel id also works as the address once known.
  EXPECT_EQ(ack_of(h.post(b, first.channel, "by channel id")).seq, 3u);
}

TEST(DirectChannels, UnknownPeerIsRefused) {
  Harness h;
  const ConnectionId a = h.connect(h.device(h.user("alice")));
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.send_to(a, 12345, "anyone?")), ErrorCode::unknown_user);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST(DirectChannels, OutsiderCannotPostIntoAPair) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId e = h.connect(h.device(h.user("eve")));
  const ChannelId pair = ack_of(h.send_to(a, bob, "private")).channel;
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.post(e, pair, "let me in")), ErrorCode::not_a_member);
  EXPECT_EQ(error_code(h.group_op(e, client::History{0, pair, 0, 10})), ErrorCode::not_a_member);
  EXPECT_EQ(h.fingerprint(), before);
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

TEST(Stateless, HttpSideRequestsAnswerOnConnectionZeroAndFanOut) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId alices = h.device(alice);
  const ConnectionId b = h.connect(h.device(bob));
  h.stateless(alice, alices, client::ChangeContact{5, client::ContactAction::add, bob});
  EXPECT_TRUE(std::holds_alternative<server::Ok>(h.reply(0, 5)));
  h.stateless(alice, alices, client::Send{6, 0, bob, "http-1", "sent over HTTP"});
  const auto ack = ack_of(h.reply(0, 6));
  EXPECT_EQ(ack.seq, 1u);
  ASSERT_EQ(h.delivered(b).size(), 1u);  // bob's live device gets it at once
  EXPECT_EQ(h.delivered(b)[0].message.text, "sent over HTTP");
  EXPECT_EQ(h.engine().connection_count(), 1u) << "no connection is left behind";
  EXPECT_FALSE(h.engine().presence().online(alice)) << "an HTTP request is no sign of life";
  h.stateless(alice, alices, client::Ack{1});
  h.stateless(alice, alices, client::Logout{7});
  EXPECT_EQ(error_code(h.reply(0, 7)), ErrorCode::bad_request);
}

TEST(Accounts, CredentialsAndTokensAreStoredOpaquely) {
  Harness h;
  const AccountResult signed_up = h.account(SignUp{"alice", "$argon2id$v=19$..."});
  ASSERT_FALSE(signed_up.error);
  const UserId alice = signed_up.user;
  const AccountResult issued =
      h.account(IssueToken{alice, 0, "phone", "$argon2id$v=19$...", std::string(32, '\x07'), 99});
  ASSERT_FALSE(issued.error);
  h.store().begin();
  EXPECT_EQ(h.engine().credential(alice), "$argon2id$v=19$...");
  EXPECT_EQ(h.engine().credential(alice + 1), std::nullopt);
  const auto token = h.engine().token(std::string(32, '\x07'));
  EXPECT_EQ(h.engine().token(std::string(32, '\x08')), std::nullopt);
  h.store().abort();
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->user, alice);
  EXPECT_EQ(token->device, issued.device);
  EXPECT_EQ(token->expires_at, 99);
  // The same bytes the tables hold.
  EXPECT_EQ(h.read([&](Records& r) { return r.credential(alice); }), "$argon2id$v=19$...");
}

TEST(Accounts, EveryErrorCodeRoundTripsThroughItsName) {
  for (auto raw = static_cast<std::uint16_t>(ErrorCode::bad_request);
       raw <= static_cast<std::uint16_t>(kLastErrorCode); ++raw) {
    const auto code = static_cast<ErrorCode>(raw);
    EXPECT_NE(to_string(code), "unknown");
    EXPECT_EQ(error_code_from_string(to_string(code)), code);
  }
  EXPECT_FALSE(error_code_from_string("no_such_code").has_value());
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

TEST(Accounts, DevicesPerUserAreBounded) {
  Harness h;
  const UserId alice = h.user("alice");
  for (std::size_t i = 0; i < limits::kMaxDevicesPerUser; ++i)
    h.device(alice);
  const std::string before = h.fingerprint();
  h.store().begin();
  auto refused = h.engine().add_device(alice, "one too many", 0);
  h.store().commit();
  EXPECT_EQ(std::get<Error>(refused).code, ErrorCode::too_many_devices);
  EXPECT_EQ(h.fingerprint(), before);
}

}  // namespace
}  // namespace parley::testing

// The account inputs (engine/engine.hpp): what the node's HTTP side writes, as inputs a log
// can carry. Each ends with its AccountResult; every refusal stores nothing.
namespace parley::testing {
namespace {

const std::string kHash = "$argon2id$v=19$hash-1";
const std::string kOtherHash = "$argon2id$v=19$hash-2";

std::string token_of(char c) {
  return std::string(32, c);
}

std::optional<TokenRecord> token_record(Harness& h, const std::string& hash) {
  return h.read([&](Records& r) { return r.token(hash); });
}

TEST(AccountInputs, SignUpCreatesTheUserWithItsCredential) {
  Harness h;
  const AccountResult made = h.account(SignUp{"Alice", kHash});
  ASSERT_FALSE(made.error);
  EXPECT_NE(made.user, 0u);
  EXPECT_EQ(made.device, 0u);
  EXPECT_EQ(h.read([](Records& r) { return r.user_by_name("alice"); }), made.user);
  EXPECT_EQ(h.read([&](Records& r) { return r.credential(made.user); }), kHash);

  const std::string before = h.fingerprint();
  const AccountResult taken = h.account(SignUp{"ALICE", kOtherHash});
  ASSERT_TRUE(taken.error);
  EXPECT_EQ(taken.error->code, ErrorCode::name_taken);
  const AccountResult invalid = h.account(SignUp{"a b", kOtherHash});
  ASSERT_TRUE(invalid.error);
  EXPECT_EQ(invalid.error->code, ErrorCode::invalid_name);
  EXPECT_EQ(h.fingerprint(), before) << "a refused sign-up stores nothing";
}

TEST(AccountInputs, IssueTokenAddsADeviceOrReplacesTheDevicesTokens) {
  Harness h;
  const UserId alice = h.account(SignUp{"alice", kHash}).user;
  const AccountResult first = h.account(IssueToken{alice, 0, "phone", kHash, token_of('1'), 50});
  ASSERT_FALSE(first.error);
  EXPECT_EQ(first.user, alice);
  EXPECT_NE(first.device, 0u);
  EXPECT_EQ(h.read([&](Records& r) { return r.device(first.device)->label; }), "phone");
  ASSERT_TRUE(token_record(h, token_of('1')));
  EXPECT_EQ(token_record(h, token_of('1'))->device, first.device);
  EXPECT_EQ(token_record(h, token_of('1'))->expires_at, 50);

  // A login of the same device: the older token stops working, the live socket closes.
  const ConnectionId live = h.connect(first.device);
  const AccountResult again =
      h.account(IssueToken{alice, first.device, "ignored", kHash, token_of('2'), 60});
  ASSERT_FALSE(again.error);
  EXPECT_EQ(again.device, first.device);
  EXPECT_EQ(token_record(h, token_of('1')), std::nullopt);
  ASSERT_TRUE(token_record(h, token_of('2')));
  EXPECT_EQ(h.closes(live), std::vector<CloseReason>{CloseReason::replaced});
  EXPECT_EQ(h.read([&](Records& r) { return r.devices_of(alice); }).size(), 1u);
  EXPECT_EQ(h.read([&](Records& r) { return r.device(first.device)->label; }), "phone");
}

TEST(AccountInputs, IssueTokenRefusesAStaleHashOrAnotherUsersDevice) {
  Harness h;
  const UserId alice = h.account(SignUp{"alice", kHash}).user;
  const UserId bob = h.account(SignUp{"bob", kOtherHash}).user;
  const DeviceId bobs =
      h.account(IssueToken{bob, 0, "phone", kOtherHash, token_of('b'), 99}).device;
  const std::string before = h.fingerprint();

  // The password was checked against a hash that is no longer the credential.
  const AccountResult stale =
      h.account(IssueToken{alice, 0, "phone", kOtherHash, token_of('1'), 99});
  ASSERT_TRUE(stale.error);
  EXPECT_EQ(stale.error->code, ErrorCode::unauthorized);
  // Unknown users have no credential at all.
  const AccountResult nobody = h.account(IssueToken{999, 0, "phone", kHash, token_of('2'), 99});
  ASSERT_TRUE(nobody.error);
  EXPECT_EQ(nobody.error->code, ErrorCode::unauthorized);
  // Bob's device is not alice's; nor is a device that does not exist.
  const AccountResult theirs = h.account(IssueToken{alice, bobs, "x", kHash, token_of('3'), 99});
  ASSERT_TRUE(theirs.error);
  EXPECT_EQ(theirs.error->code, ErrorCode::unknown_device);
  const AccountResult missing = h.account(IssueToken{alice, 4242, "x", kHash, token_of('4'), 99});
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->code, ErrorCode::unknown_device);
  // The hash must be storable as a key; the label obeys add_device's rule.
  const AccountResult empty = h.account(IssueToken{alice, 0, "phone", kHash, "", 99});
  ASSERT_TRUE(empty.error);
  EXPECT_EQ(empty.error->code, ErrorCode::bad_request);
  const AccountResult label =
      h.account(IssueToken{alice, 0, std::string(200, 'x'), kHash, token_of('5'), 99});
  ASSERT_TRUE(label.error);
  EXPECT_EQ(label.error->code, ErrorCode::invalid_name);

  EXPECT_EQ(h.fingerprint(), before) << "a refused login stores nothing";
  EXPECT_TRUE(token_record(h, token_of('b'))) << "bob's token is untouched";
}

TEST(AccountInputs, SignOutOneDeviceOrEveryDevice) {
  Harness h;
  const UserId alice = h.account(SignUp{"alice", kHash}).user;
  const DeviceId phone = h.account(IssueToken{alice, 0, "phone", kHash, token_of('p'), 99}).device;
  const DeviceId laptop =
      h.account(IssueToken{alice, 0, "laptop", kHash, token_of('l'), 99}).device;
  const DeviceId tablet =
      h.account(IssueToken{alice, 0, "tablet", kHash, token_of('t'), 99}).device;
  const ConnectionId on_phone = h.connect(phone);
  const ConnectionId on_laptop = h.connect(laptop);

  const AccountResult one = h.account(SignOut{alice, {phone}, false});
  ASSERT_FALSE(one.error);
  EXPECT_EQ(one.signed_out, 1u);
  EXPECT_EQ(token_record(h, token_of('p')), std::nullopt);
  EXPECT_TRUE(token_record(h, token_of('l')));
  EXPECT_EQ(h.closes(on_phone), std::vector<CloseReason>{CloseReason::logged_out});
  EXPECT_TRUE(h.closes(on_laptop).empty());

  // A device of another user (or none) is refused, and nobody is signed out.
  const UserId bob = h.account(SignUp{"bob", kOtherHash}).user;
  const DeviceId bobs =
      h.account(IssueToken{bob, 0, "phone", kOtherHash, token_of('b'), 99}).device;
  const std::string before = h.fingerprint();
  const AccountResult theirs = h.account(SignOut{alice, {laptop, bobs}, false});
  ASSERT_TRUE(theirs.error);
  EXPECT_EQ(theirs.error->code, ErrorCode::unknown_device);
  EXPECT_EQ(h.fingerprint(), before);
  EXPECT_TRUE(h.closes(on_laptop).empty());

  // Every device the user has when the input applies ("log out everywhere").
  const AccountResult all = h.account(SignOut{alice, {}, true});
  ASSERT_FALSE(all.error);
  EXPECT_EQ(all.signed_out, 3u);
  for (char c : {'l', 't'})
    EXPECT_EQ(token_record(h, token_of(c)), std::nullopt);
  EXPECT_EQ(h.closes(on_laptop), std::vector<CloseReason>{CloseReason::logged_out});
  EXPECT_TRUE(token_record(h, token_of('b'))) << "bob stays signed in";
  (void)tablet;
}

TEST(AccountInputs, ChangePasswordSignsOutEveryOtherDevice) {
  Harness h;
  const UserId alice = h.account(SignUp{"alice", kHash}).user;
  const DeviceId phone = h.account(IssueToken{alice, 0, "phone", kHash, token_of('p'), 99}).device;
  const DeviceId laptop =
      h.account(IssueToken{alice, 0, "laptop", kHash, token_of('l'), 99}).device;
  const ConnectionId on_phone = h.connect(phone);
  const ConnectionId on_laptop = h.connect(laptop);

  const AccountResult changed = h.account(ChangePassword{alice, phone, kOtherHash});
  ASSERT_FALSE(changed.error);
  EXPECT_EQ(changed.user, alice);
  EXPECT_EQ(changed.device, phone);
  EXPECT_EQ(changed.signed_out, 1u);
  EXPECT_EQ(h.read([&](Records& r) { return r.credential(alice); }), kOtherHash);
  EXPECT_TRUE(token_record(h, token_of('p'))) << "the caller's token keeps working";
  EXPECT_EQ(token_record(h, token_of('l')), std::nullopt);
  EXPECT_TRUE(h.closes(on_phone).empty());
  EXPECT_EQ(h.closes(on_laptop), std::vector<CloseReason>{CloseReason::logged_out});

  // A login checked against the old hash loses the race.
  const AccountResult stale = h.account(IssueToken{alice, 0, "new", kHash, token_of('n'), 99});
  ASSERT_TRUE(stale.error);
  EXPECT_EQ(stale.error->code, ErrorCode::unauthorized);

  const std::string before = h.fingerprint();
  const AccountResult nobody = h.account(ChangePassword{999, 0, kHash});
  ASSERT_TRUE(nobody.error);
  EXPECT_EQ(nobody.error->code, ErrorCode::unknown_user);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST(AccountInputs, StatelessIsHandleFor) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId alices = h.device(alice);
  const Effects effects =
      h.input(Stateless{alice, alices, client::ChangeContact{9, client::ContactAction::add, bob}});
  std::vector<server::Event> answers;  // to connection 0: the caller's
  for (const Effect& effect : effects) {
    const auto* send = std::get_if<SendEvent>(&effect);
    if (send && send->connection == 0) answers.push_back(send->event);
    EXPECT_FALSE(std::holds_alternative<AccountResult>(effect));
  }
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<server::Ok>(answers[0]));
  const Effects refused = h.input(Stateless{alice, alices, client::Heartbeat{}});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(error_code(std::get<SendEvent>(refused[0]).event), ErrorCode::bad_request);
}

}  // namespace
}  // namespace parley::testing
