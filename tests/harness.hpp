// A minimal host for engine tests: host::Core over one store, one batch per input, and a
// log of what every connection received.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/describe.hpp"
#include "engine/engine.hpp"
#include "engine/records.hpp"  // read(): white-box access to the tables
#include "host/core.hpp"
#include "host/release.hpp"
#include "search/feed.hpp"
#include "storage/lmdb_store.hpp"
#include "storage/memory_store.hpp"
#include "storage/pipelined_store.hpp"

namespace parley::engine {
// Readable names in assertion failures.
inline void PrintTo(ErrorCode code, std::ostream* out) {
  *out << to_string(code);
}
}  // namespace parley::engine

namespace parley::testing {

using namespace parley::engine;

// The store the engine suites run on: "memory" or "lmdb" (tests/test_main.cpp, --store=).
const std::string& store_kind();

inline std::unique_ptr<Store> make_test_store() {
  if (store_kind() == "lmdb" || store_kind() == "pipelined") {
    storage::LmdbOptions options;
    options.sync = false;  // tests do not survive power loss; the crash test uses fsync
    options.remove_on_close = true;
    options.initial_map_bytes = 1ull << 20;  // small: the suite exercises map growth too
    auto lmdb =
        std::make_unique<storage::LmdbStore>(storage::make_temp_directory("parley-test"), options);
    if (store_kind() == "lmdb") return lmdb;
    // The node's store: writes reach LMDB through the committer thread.
    return std::make_unique<storage::PipelinedStore>(std::move(lmdb));
  }
  return std::make_unique<storage::MemoryStore>();
}

class Harness {
 public:
  explicit Harness(EngineConfig config = {}) : Harness(make_test_store(), config) {}
  // On a store of the test's own (a wrapper that counts reads, say).
  Harness(std::unique_ptr<Store> store, EngineConfig config)
      : store_holder_(std::move(store)), store_(*store_holder_), core_(store_, checked(config)) {
    core_.open();
  }

  // Every suite runs with the engine's self-checks on (EngineConfig::check_invariants).
  static EngineConfig checked(EngineConfig config) {
    config.check_invariants = true;
    return config;
  }

  UserId user(const std::string& name) {
    core_.begin(now_);
    auto outcome =
        core_.provision([&](Engine& engine, TimeUs now) { return engine.create_user(name, now); });
    core_.commit();
    EXPECT_TRUE(std::holds_alternative<UserId>(outcome)) << name;
    return std::get<UserId>(outcome);
  }

  // Makes two users each other's contacts (friends), as the simulator provisions them: their
  // 1:1 chat is then no message request for either (rule 22).
  void befriend(UserId one, UserId other) {
    core_.begin(now_);
    core_.provision([&](Engine& engine, TimeUs now) {
      engine.provision_contact(one, other, now);
      engine.provision_contact(other, one, now);
      return 0;
    });
    core_.commit();
  }

  DeviceId device(UserId user, const std::string& label = "phone") {
    core_.begin(now_);
    auto outcome = core_.provision(
        [&](Engine& engine, TimeUs now) { return engine.add_device(user, label, now); });
    core_.commit();
    EXPECT_TRUE(std::holds_alternative<DeviceId>(outcome));
    return std::get<DeviceId>(outcome);
  }

  // Moves the clock without an input (the next input also adds 1 ms).
  void advance(TimeUs by) { now_ += by; }
  void set_time(TimeUs at) { now_ = at; }
  Effects tick() { return input(Tick{}); }

  // A request through the HTTP side (no connection): its answer is recorded on connection 0.
  Effects stateless(UserId user, DeviceId device, client::Request request) {
    return input(Stateless{user, device, std::move(request)});
  }

  // An account input (SignUp, IssueToken, SignOut, ChangePassword) in a batch of its own:
  // its AccountResult (the other effects are recorded as usual).
  AccountResult account(const Input& account_input) {
    const Effects effects = input(account_input);
    EXPECT_FALSE(effects.empty()) << "an account input ends with its AccountResult";
    const auto* result = effects.empty() ? nullptr : std::get_if<AccountResult>(&effects.back());
    EXPECT_NE(result, nullptr) << "an account input ends with its AccountResult";
    return result ? *result : AccountResult{};
  }

  Effects input(const Input& input) {
    now_ += 1000;
    Effects effects = core_.run_batch(std::span(&input, 1), now_);
    record(effects);
    return effects;
  }

  // Keeps a copy of each effect by kind (the host::release dispatcher: a new effect kind
  // fails to compile here until the harness records it).
  void record(Effects effects) {
    host::release(
        std::move(effects),
        host::Overloaded{
            [&](SendEvent&& send) { received_[send.connection].push_back(std::move(send.event)); },
            [&](PushNotification&& push) { pushes_.push_back(push.intent); },
            [&](CloseConnection&& close) { closed_[close.connection].push_back(close.reason); },
            [&](PresenceChange&& change) { changes_.push_back(change); },
            [&](PushDropped&& dropped) { dropped_.push_back(dropped); },
            // Read by account() from the effects themselves.
            [&](AccountResult&&) {},
            // The index a host keeps (docs/search.md), in memory: searches are answered on
            // the asking connection as the node's worker answers them.
            [&](IndexText&& text) { search::apply(index_, text); },
            [&](UnindexText&& text) { search::apply(index_, text); },
            [&](SearchRequested&& asked) {
              searches_.push_back(asked);
              received_[asked.connection].push_back(search::answer(index_, asked));
            },
        });
  }

  ConnectionId connect(DeviceId device, InboxSeq cursor = 0) {
    const ConnectionId id = next_connection_++;
    input(Connected{id, device, cursor});
    return id;
  }

  void disconnect(ConnectionId connection) { input(Disconnected{connection}); }

  Effects request(ConnectionId connection, client::Request request) {
    return input(Received{connection, std::move(request)});
  }

  // Sends and returns the reply (a SendAck or a Failure).
  server::Event send(ConnectionId connection, ChannelId channel, UserId peer,
                     const std::string& text, std::string client_msg_id = "") {
    if (client_msg_id.empty()) client_msg_id = "m" + std::to_string(next_client_msg_id_++);
    const RequestId id = next_request_++;
    request(connection, client::Send{id, channel, peer, client_msg_id, text});
    return reply(connection, id);
  }
  server::Event send_to(ConnectionId connection, UserId peer, const std::string& text,
                        std::string client_msg_id = "") {
    return send(connection, 0, peer, text, std::move(client_msg_id));
  }
  server::Event post(ConnectionId connection, ChannelId channel, const std::string& text,
                     std::string client_msg_id = "") {
    return send(connection, channel, 0, text, std::move(client_msg_id));
  }

  // The reply to request `id` on `connection`; fails the test if there is none.
  server::Event reply(ConnectionId connection, RequestId id) {
    for (const auto& event : received_[connection]) {
      const RequestId answered = std::visit(
          [](const auto& e) -> RequestId {
            if constexpr (requires { e.request; }) return e.request;
            return 0;
          },
          event);
      if (answered == id) return event;
    }
    ADD_FAILURE() << "no reply to request " << id << " on connection " << connection;
    return server::Failure{id, ErrorCode::bad_request, "no reply"};
  }

  ChannelId create_group(ConnectionId connection, const std::string& name,
                         std::vector<UserId> members) {
    const RequestId id = next_request_++;
    request(connection, client::CreateGroup{id, name, std::move(members)});
    const auto event = reply(connection, id);
    const auto* created = std::get_if<server::GroupCreated>(&event);
    EXPECT_NE(created, nullptr) << describe(event);
    return created ? created->channel : 0;
  }

  server::Event group_op(ConnectionId connection, client::Request op) {
    const RequestId id = next_request_++;
    std::visit(
        [&](auto& typed) {
          if constexpr (requires { typed.request; }) typed.request = id;
        },
        op);
    request(connection, std::move(op));
    return reply(connection, id);
  }

  std::vector<InboxEntry> delivered(ConnectionId connection) const {
    std::vector<InboxEntry> entries;
    const auto found = received_.find(connection);
    if (found == received_.end()) return entries;
    for (const auto& event : found->second) {
      if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
        entries.insert(entries.end(), deliver->entries.begin(), deliver->entries.end());
      }
    }
    return entries;
  }

  // Acks the newest delivered entry, like a client that stored it.
  void ack_latest(ConnectionId connection) {
    const auto entries = delivered(connection);
    if (!entries.empty()) request(connection, client::Ack{entries.back().inbox_seq});
  }

  // Acks until the connection has received its whole inbox.
  void drain(ConnectionId connection) {
    for (int round = 0; round < 100000; ++round) {
      const std::size_t before = delivered(connection).size();
      ack_latest(connection);
      if (delivered(connection).size() == before) return;
    }
    FAIL() << "drain did not converge";
  }

  // Presence events (not lists) a connection received, in order.
  std::vector<server::PresenceEntry> presence_events(ConnectionId connection) {
    std::vector<server::PresenceEntry> entries;
    for (const auto& event : received_[connection]) {
      if (const auto* presence = std::get_if<server::Presence>(&event)) {
        entries.push_back(presence->entry);
      }
    }
    return entries;
  }
  const std::vector<PushIntent>& pushes() const { return pushes_; }

  const std::vector<server::Event>& events(ConnectionId connection) {
    return received_[connection];
  }
  const std::vector<CloseReason>& closes(ConnectionId connection) { return closed_[connection]; }
  void clear(ConnectionId connection) { received_[connection].clear(); }

  // Every byte of every table: equal fingerprints mean an identical store.
  std::string fingerprint() {
    std::string all;
    store_.begin();
    for (std::size_t t = 0; t < kTableCount; ++t) {
      store_.scan(
          static_cast<Table>(t), "", "", false, [&](std::string_view key, std::string_view value) {
            all += std::to_string(t) + ":" + std::string(key) + "=" + std::string(value) + "\n";
            return true;
          });
    }
    store_.abort();
    return all;
  }

  template <typename F>
  auto read(F&& f) {
    // White-box: the tables themselves, not what the engine chooses to show of them.
    return core_.read([&](const Engine&) {
      Records records(store_);
      return f(records);
    });
  }

  Engine& engine() { return core_.engine(); }
  Store& store() { return store_; }
  TimeUs now() const { return now_; }

 private:
  std::unique_ptr<Store> store_holder_;
  Store& store_;
  host::Core core_;
  TimeUs now_ = 1'000'000;
  ConnectionId next_connection_ = 1;
  RequestId next_request_ = 1;
  std::uint64_t next_client_msg_id_ = 1;
  std::map<ConnectionId, std::vector<server::Event>> received_;
  std::map<ConnectionId, std::vector<CloseReason>> closed_;
  std::vector<PushIntent> pushes_;
  std::vector<PresenceChange> changes_;
  std::vector<PushDropped> dropped_;
  search::SearchIndex index_{":memory:"};
  std::vector<SearchRequested> searches_;

 public:
  const std::vector<PresenceChange>& presence_changes() const { return changes_; }
  // Every search the engine scoped, with its windows, oldest first.
  const std::vector<SearchRequested>& searches() const { return searches_; }
  const search::SearchIndex& index() const { return index_; }
  const std::vector<PushDropped>& dropped_pushes() const { return dropped_; }
};

inline ErrorCode error_code(const server::Event& event) {
  const auto* failure = std::get_if<server::Failure>(&event);
  EXPECT_NE(failure, nullptr) << "expected an error, got: " << describe(event);
  return failure ? failure->code : ErrorCode::bad_request;
}

inline server::SendAck ack_of(const server::Event& event) {
  const auto* ack = std::get_if<server::SendAck>(&event);
  EXPECT_NE(ack, nullptr) << "expected a send_ack, got: " << describe(event);
  return ack ? *ack : server::SendAck{};
}

}  // namespace parley::testing
