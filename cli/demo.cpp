#include "cli/demo.hpp"

#include <string>

#include "engine/describe.hpp"
#include "engine/engine.hpp"
#include "host/core.hpp"
#include "storage/memory_store.hpp"

namespace parley::cli {
namespace {

using namespace parley::engine;

// host::Core with one input per batch: effects are printed only after the commit, as the
// durability rule requires.
class DemoHost {
 public:
  DemoHost(std::ostream& out) : core_(store_, {}), out_(out) { core_.open(); }

  template <typename T>
  T account(Outcome<T> outcome) {
    if (const auto* error = std::get_if<Error>(&outcome)) {
      throw std::runtime_error(std::string(to_string(error->code)) + ": " + error->message);
    }
    return std::get<T>(outcome);
  }

  UserId sign_up(const std::string& name) {
    core_.begin(now_);
    const UserId user = account(
        core_.provision([&](Engine& engine, TimeUs now) { return engine.create_user(name, now); }));
    core_.commit();
    out_ << "signed up " << name << " as user " << user << "\n";
    return user;
  }

  DeviceId add_device(UserId user, const std::string& label) {
    core_.begin(now_);
    const DeviceId device = account(core_.provision(
        [&](Engine& engine, TimeUs now) { return engine.add_device(user, label, now); }));
    core_.commit();
    return device;
  }

  void input(const Input& input) {
    now_ += 1'000'000;
    const Effects effects = core_.run_batch(std::span(&input, 1), now_);
    for (const Effect& effect : effects) {
      out_ << "  " << describe(effect) << "\n";
      if (const auto* send = std::get_if<SendEvent>(&effect)) auto_ack(send->connection, *send);
    }
  }

 private:
  // Each demo device acks what it receives, as a real client does once it has stored it.
  void auto_ack(ConnectionId connection, const SendEvent& send) {
    const auto* deliver = std::get_if<server::Deliver>(&send.event);
    if (deliver == nullptr) return;
    const Input ack = Received{connection, client::Ack{deliver->entries.back().inbox_seq}};
    const Effects more = core_.run_batch(std::span(&ack, 1), now_);
    for (const Effect& effect : more)
      out_ << "  " << describe(effect) << "\n";
  }

  storage::MemoryStore store_;
  host::Core core_;
  std::ostream& out_;
  TimeUs now_ = 0;
};

}  // namespace

int run_demo(std::size_t messages_per_side, std::ostream& out) {
  DemoHost host(out);
  const UserId alice = host.sign_up("alice");
  const UserId bob = host.sign_up("bob");
  const UserId carol = host.sign_up("carol");
  const DeviceId alice_phone = host.add_device(alice, "phone");
  const DeviceId alice_laptop = host.add_device(alice, "laptop");
  const DeviceId bob_phone = host.add_device(bob, "phone");
  const DeviceId carol_phone = host.add_device(carol, "phone");

  out << "\n# alice (phone = conn 1, laptop = conn 2) and bob (conn 3) connect\n";
  host.input(Connected{1, alice_phone, 0});
  host.input(Connected{2, alice_laptop, 0});
  host.input(Connected{3, bob_phone, 0});

  out << "\n# a 1:1 chat; alice's laptop sees what her phone sends\n";
  RequestId request = 1;
  for (std::size_t i = 1; i <= messages_per_side; ++i) {
    host.input(Received{1, client::Send{request++, 0, bob, "a" + std::to_string(i),
                                        "hi bob #" + std::to_string(i)}});
    host.input(Received{3, client::Send{request++, 0, alice, "b" + std::to_string(i),
                                        "hello alice #" + std::to_string(i)}});
  }

  out << "\n# a resend with the same client_msg_id stores nothing new\n";
  host.input(Received{1, client::Send{request++, 0, bob, "a1", "hi bob #1"}});

  out << "\n# bad input gets an error and stores nothing\n";
  host.input(Received{1, client::Send{request++, 0, bob, "bad", std::string("\xff\xfe", 2)}});

  out << "\n# alice makes a group with bob; carol is added while offline, then connects\n";
  host.input(Received{1, client::CreateGroup{request++, "weekend", {bob}}});
  host.input(Received{1, client::AddMember{request++, 2, carol}});
  host.input(Received{3, client::Send{request++, 2, 0, "g1", "who brings snacks?"}});
  host.input(Connected{4, carol_phone, 0});

  out << "\n# carol pages back through the group's history\n";
  host.input(Received{4, client::History{request++, 2, 0, 10}});

  out << "\n# alice and bob add each other: friends see each other's presence\n";
  host.input(Received{1, client::ChangeContact{request++, client::ContactAction::add, bob}});
  host.input(Received{3, client::ChangeContact{request++, client::ContactAction::add, alice}});

  out << "\n# bob reads the 1:1 chat: alice's devices see it read, his unread count drops\n";
  host.input(Received{3, client::MarkRead{request++, 1, 2 * messages_per_side}});
  host.input(Received{3, client::QueryUnread{request++, 0}});

  out << "\n# bob registers a push token and closes the app; 30 s later he is offline\n";
  host.input(Received{3, client::RegisterPushToken{request++, "apns", "demo-token"}});
  host.input(Disconnected{3});
  for (int second = 0; second < 30; ++second) {
    host.input(Received{1, client::Heartbeat{}});  // alice's app heartbeats on
    host.input(Tick{});
  }

  out << "\n# alice writes to offline bob: a push intent goes to his token\n";
  host.input(Received{1, client::Send{request++, 0, bob, "p1", "dinner at 8?"}});
  return 0;
}

}  // namespace parley::cli
