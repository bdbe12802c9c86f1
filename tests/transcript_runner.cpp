// The one interpreter for the transcript files in tests/transcripts/ (docs/testing.md).
#include "tests/transcript_runner.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "engine/describe.hpp"
#include "engine/engine.hpp"
#include "host/core.hpp"
#include "search/feed.hpp"
#include "tests/transcript_file.hpp"

namespace parley::testing::transcript {
namespace {

using namespace parley::engine;

constexpr TimeUs kSecond = 1'000'000;
// The clock at the top of every transcript: last_active=1000000 reads "@1s".
constexpr TimeUs kStart = kSecond;

// ---- A store that knows which tables were written, for store-mark / store-diff ------------

class RecordingStore final : public Store {
 public:
  explicit RecordingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  void begin() override { inner_->begin(); }
  void commit() override { inner_->commit(); }
  void abort() override { inner_->abort(); }
  bool in_transaction() const override { return inner_->in_transaction(); }
  std::optional<std::string> get(Table table, std::string_view key) const override {
    return inner_->get(table, key);
  }
  void put(Table table, std::string_view key, std::string_view value) override {
    written_.insert(table);
    inner_->put(table, key, value);
  }
  void erase(Table table, std::string_view key) override { inner_->erase(table, key); }
  void scan(Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& visit) const override {
    inner_->scan(table, from, to, reverse, visit);
  }

  // Every entry of the store, keyed by table name and key. A table never written is empty,
  // so this needs no list of the tables.
  std::map<std::pair<std::string, std::string>, std::string> contents() {
    std::map<std::pair<std::string, std::string>, std::string> all;
    inner_->begin();
    for (const Table table : written_) {
      const std::string name(table_name(table));
      inner_->scan(table, "", "", false, [&](std::string_view key, std::string_view value) {
        all[{name, std::string(key)}] = std::string(value);
        return true;
      });
    }
    inner_->abort();
    return all;
  }

 private:
  std::unique_ptr<Store> inner_;
  std::set<Table> written_;
};

// ---- The interpreter ---------------------------------------------------------------------

class Interpreter {
 public:
  explicit Interpreter(const Options& options) : store_(options.make_store()) {}

  // The output lines of one command.
  std::vector<std::string> run(Command& command) {
    Args args(command);
    std::vector<std::string> out;
    const std::string& name = command.name;
    bool engine_input = true;  // an empty output reads "(no effects)" rather than "ok"
    if (name == "config") {
      engine_input = false;
      configure(args);
    } else if (name == "user") {
      engine_input = false;
      for (std::size_t i = 0; i < args.positional_count(); ++i)
        out.push_back(create_user(*args.positional(i)));
    } else if (name == "friends") {  // friends A B ...: every two are mutual contacts
      engine_input = false;
      out.push_back(befriend(args));
    } else if (name == "device") {
      engine_input = false;
      for (std::size_t i = 0; i < args.positional_count(); ++i)
        out.push_back(add_device(*args.positional(i)));
    } else if (name == "connect") {
      const std::string connection = args.required(0, "connection name");
      const DeviceId device = device_ref(args.required(1, "device (user/label)")).second;
      const InboxSeq cursor = parse_number(args.key("cursor").value_or("0"));
      const ConnectionId id = next_connection_++;
      connections_[connection] = id;
      names_[id] = connection;
      render(input(Connected{id, device, cursor}), out);
    } else if (name == "disconnect") {
      render(input(Disconnected{connection(args.required(0, "connection"))}), out);
    } else if (name == "send") {
      send(args, out);
    } else if (name == "ack") {
      const ConnectionId id = connection(args.required(0, "connection"));
      const auto seq = args.positional(1);
      render(input(Received{id, client::Ack{seq ? parse_number(*seq) : delivered_[id]}}), out);
    } else if (name == "drain") {
      drain(connection(args.required(0, "connection")), out);
    } else if (name == "history") {
      client::History history;
      history.request = request_id(args);
      history.channel = parse_number(required_key(args, "channel"));
      history.before_seq = parse_number(args.key("before").value_or("0"));
      history.limit = static_cast<std::uint32_t>(parse_number(args.key("limit").value_or("50")));
      submit(args, history, out);
    } else if (name == "group") {
      client::CreateGroup create;
      create.request = request_id(args);
      create.name = required_key(args, "name");
      for (const std::string& member : split_list(args.key("members").value_or("")))
        create.members.push_back(user_ref(member));
      submit(args, create, out);
    } else if (name == "add" || name == "remove") {
      const RequestId request = request_id(args);
      const ChannelId channel = parse_number(required_key(args, "channel"));
      const UserId user = user_ref(required_key(args, "user"));
      if (name == "add") {
        submit(args, client::AddMember{request, channel, user}, out);
      } else {
        submit(args, client::RemoveMember{request, channel, user}, out);
      }
    } else if (name == "leave") {
      const RequestId request = request_id(args);
      submit(args, client::LeaveGroup{request, parse_number(required_key(args, "channel"))}, out);
    } else if (name == "logout") {
      submit(args, client::Logout{request_id(args)}, out);
    } else if (name == "heartbeat") {
      submit(args, client::Heartbeat{}, out);
    } else if (name == "typing") {
      const RequestId request = request_id(args);
      const ChannelId channel = parse_number(required_key(args, "channel"));
      const auto state = args.positional(1).value_or("start");
      if (state != "start" && state != "stop") {
        throw TranscriptError("typing takes start or stop, not " + std::string(state));
      }
      submit(args, client::Typing{request, channel, state == "start"}, out);
    } else if (name == "read") {
      const RequestId request = request_id(args);
      submit(args,
             client::MarkRead{request, parse_number(required_key(args, "channel")),
                              parse_number(required_key(args, "seq"))},
             out);
    } else if (name == "receipts") {
      const RequestId request = request_id(args);
      submit(args, client::QueryReceipts{request, parse_number(required_key(args, "channel"))},
             out);
    } else if (name == "settings") {
      client::Settings settings{request_id(args), std::nullopt};
      if (auto receipts = args.key("read_receipts")) {
        if (*receipts != "on" && *receipts != "off") {
          throw TranscriptError("read_receipts takes on or off, not " + std::string(*receipts));
        }
        settings.read_receipts = *receipts == "on";
      }
      submit(args, settings, out);
    } else if (name == "edit" || name == "delete") {
      edit_or_delete(name, args, out);
    } else if (name == "mute") {
      mute(args, out);
    } else if (name == "request") {
      answer_request(args, out);
    } else if (name == "search") {
      client::Search search{request_id(args), std::string(args.required(1, "query")), 0, 20};
      search.offset = static_cast<std::uint32_t>(parse_number(args.key("offset").value_or("0")));
      search.limit = static_cast<std::uint32_t>(parse_number(args.key("limit").value_or("20")));
      submit(args, search, out);
    } else if (name == "contact") {
      const RequestId request = request_id(args);
      const std::string action = args.required(1, "action (add, remove, block, unblock)");
      const UserId user = user_ref(args.required(2, "user"));
      submit(args, client::ChangeContact{request, contact_action(action), user}, out);
    } else if (name == "contacts") {
      submit(args, client::ListContacts{request_id(args)}, out);
    } else if (name == "presence") {
      client::QueryPresence query;
      query.request = request_id(args);
      for (std::size_t i = 1; i < args.positional_count(); ++i) {
        for (const std::string& user : split_list(*args.positional(i)))
          query.users.push_back(user_ref(user));
      }
      submit(args, query, out);
    } else if (name == "unread") {
      const RequestId request = request_id(args);
      submit(args, client::QueryUnread{request, parse_number(args.key("after").value_or("0"))},
             out);
    } else if (name == "channels") {
      client::ListChannels list;
      list.request = request_id(args);
      list.after = parse_number(args.key("after").value_or("0"));
      if (auto limit = args.key("limit"))
        list.limit = static_cast<std::uint32_t>(parse_number(*limit));
      submit(args, list, out);
    } else if (name == "push-token") {
      const RequestId request = request_id(args);
      submit(args,
             client::RegisterPushToken{request, args.required(1, "platform"),
                                       args.required(2, "token")},
             out);
    } else if (name == "push-untoken") {
      submit(args, client::UnregisterPushToken{request_id(args)}, out);
    } else if (name == "push-result") {
      push_result(args, out);
    } else if (name == "sign-out") {
      const auto [user, device] = device_ref(args.required(0, "device (user/label)"));
      render(account([&] { return engine().sign_out_device(user, device, now_); }), out);
    } else if (name == "advance") {
      engine_input = false;
      now_ += parse_duration(args.required(0, "duration"));
    } else if (name == "tick") {
      tick(args, out);
    } else if (name == "restart") {
      // A restarted node: a new engine over the same store. Every connection is gone.
      engine_input = false;
      core_.reset();
      engine();
    } else if (name == "store-mark") {
      engine_input = false;
      engine();
      mark_ = store_.contents();
    } else if (name == "store-diff") {
      engine_input = false;
      if (!mark_) throw TranscriptError("store-diff needs a store-mark before it");
      out.push_back(store_diff());
    } else {
      throw TranscriptError("unknown command '" + name + "'");
    }
    args.finish();
    if (out.empty()) out.emplace_back(engine_input ? "(no effects)" : "ok");
    return out;
  }

 private:
  Engine& engine() {
    if (!core_) {
      core_ = std::make_unique<host::Core>(store_, config_);
      core_->open(now_);
    }
    return core_->engine();
  }

  // One input in one batch of host::Core, as every host runs it (the durability rule).
  Effects input(const Input& in) {
    engine();
    return core_->run_batch(std::span(&in, 1), now_);
  }

  // A write outside the input stream in a batch of its own, as host::Core::provision (test
  // worlds only) makes it: setting up users and devices, a bare sign-out. Its effects are
  // returned to render, then nothing is left for the commit to release.
  template <typename F>
  std::invoke_result_t<F&> account(F&& call) {
    engine();
    core_->begin(now_);
    try {
      const auto write = [&](Engine&, TimeUs) { return call(); };
      if constexpr (std::is_same_v<std::invoke_result_t<F&>, Effects>) {
        core_->provision(write);
        return core_->commit();  // the effects the write made, released by the commit
      } else {
        auto result = core_->provision(write);
        core_->commit();
        return result;
      }
    } catch (...) {
      core_->abort();
      throw;
    }
  }

  void configure(Args& args) {
    if (core_) throw TranscriptError("config must come before the first command that runs");
    const auto count = [&](const char* key, auto& field) {
      if (auto value = args.key(key)) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(parse_number(*value));
      }
    };
    const auto duration = [&](const char* key, TimeUs& field) {
      if (auto value = args.key(key)) field = parse_duration(*value);
    };
    count("delivery_batch", config_.delivery_batch);
    count("delivery_window", config_.delivery_window);
    count("delivery_batch_bytes", config_.delivery_batch_bytes);
    count("delivery_window_bytes", config_.delivery_window_bytes);
    count("history_page_bytes", config_.history_page_bytes);
    count("push_outbox_max", config_.push_outbox_max);
    duration("heartbeat_interval", config_.heartbeat_interval_us);
    duration("presence_timeout", config_.presence_timeout_us);
    duration("push_collapse_window", config_.push_collapse_window_us);
    if (auto when = args.key("push_when")) {
      if (*when == "offline") {
        config_.push_when = EngineConfig::PushWhen::offline;
      } else if (*when == "disconnected") {
        config_.push_when = EngineConfig::PushWhen::disconnected;
      } else {
        throw TranscriptError("push_when is offline or disconnected");
      }
    }
  }

  static std::string error_text(const Error& error) {
    return "error code=" + std::string(to_string(error.code)) + " (" + error.message + ")";
  }

  std::string create_user(const std::string& name) {
    const auto outcome = account([&] { return engine().create_user(name, now_); });
    if (const auto* error = std::get_if<Error>(&outcome)) return name + ": " + error_text(*error);
    users_[name] = std::get<UserId>(outcome);
    return name + " = user " + std::to_string(std::get<UserId>(outcome));
  }

  // Provisions every two of the named users as each other's contacts (as the simulator's
  // social graph does): their chats are no message requests (rule 22), presence flows.
  std::string befriend(Args& args) {
    std::vector<UserId> users;
    std::string names;
    for (std::size_t i = 0; i < args.positional_count(); ++i) {
      users.push_back(user_ref(*args.positional(i)));
      names += (i == 0 ? "" : " ") + std::string(*args.positional(i));
    }
    account([&] {
      for (UserId one : users) {
        for (UserId other : users) {
          if (one != other) engine().provision_contact(one, other, now_);
        }
      }
      return 0;
    });
    return names + ": friends";
  }

  std::string add_device(const std::string& spec) {
    const auto slash = spec.find('/');
    if (slash == std::string::npos) throw TranscriptError("a device is user/label: " + spec);
    const UserId user = user_ref(spec.substr(0, slash));
    const auto outcome =
        account([&] { return engine().add_device(user, spec.substr(slash + 1), now_); });
    if (const auto* error = std::get_if<Error>(&outcome)) return spec + ": " + error_text(*error);
    devices_[spec] = {user, std::get<DeviceId>(outcome)};
    return spec + " = device " + std::to_string(std::get<DeviceId>(outcome));
  }

  // A user by name, or by number (for ids that name nobody).
  UserId user_ref(const std::string& text) const {
    if (is_number(text)) return parse_number(text);
    const auto found = users_.find(text);
    if (found == users_.end()) throw TranscriptError("no user named '" + text + "'");
    return found->second;
  }

  // A device as user/label, or a bare number (a device that does not exist).
  std::pair<UserId, DeviceId> device_ref(const std::string& text) const {
    if (is_number(text)) return {0, parse_number(text)};
    const auto found = devices_.find(text);
    if (found == devices_.end()) throw TranscriptError("no device named '" + text + "'");
    return found->second;
  }

  ConnectionId connection(const std::string& name) const {
    const auto found = connections_.find(name);
    if (found == connections_.end()) {
      throw TranscriptError("no connection named '" + name + "'; connect it first");
    }
    return found->second;
  }

  static std::string required_key(Args& args, std::string_view key) {
    auto value = args.key(key);
    if (!value) throw TranscriptError("missing " + std::string(key) + "=");
    return *value;
  }

  RequestId request_id(Args& args) {
    if (auto given = args.key("req")) return parse_number(*given);
    return next_request_++;
  }

  static client::ContactAction contact_action(std::string_view action) {
    if (action == "add") return client::ContactAction::add;
    if (action == "remove") return client::ContactAction::remove;
    if (action == "block") return client::ContactAction::block;
    if (action == "unblock") return client::ContactAction::unblock;
    throw TranscriptError("a contact action is add, remove, block or unblock");
  }

  // A request from connection `who` (the first argument), or, written http:user/label,
  // through the HTTP side on behalf of that device (its answer goes to "http").
  void submit(Args& args, const client::Request& request, std::vector<std::string>& out) {
    const std::string who = args.required(0, "connection");
    if (who.starts_with("http:")) {
      const auto [user, device] = device_ref(who.substr(5));
      render(input(Stateless{user, device, request}), out);
      return;
    }
    render(input(Received{connection(who), request}), out);
  }

  void send(Args& args, std::vector<std::string>& out) {
    const std::string text = args.required(1, "text");
    const auto to = args.key("to");
    const auto channel = args.key("channel");
    const auto id = args.key("id");
    const auto given_request = args.key("req");
    const std::uint64_t times = parse_number(args.key("times").value_or("1"));
    for (std::uint64_t i = 1; i <= times; ++i) {
      const std::string n = std::to_string(i);
      client::Send send;
      send.request = given_request ? parse_number(*given_request) : next_request_++;
      send.peer = to ? user_ref(*to) : 0;
      send.channel = channel ? parse_number(*channel) : 0;
      send.client_msg_id = id ? replace_all(*id, "{i}", n) : "m" + std::to_string(next_msg_++);
      send.text = replace_all(text, "{i}", n);
      send.reply_to = parse_number(args.key("reply").value_or("0"));
      submit(args, send, out);
    }
  }

  // edit CONN "TEXT" channel=C seq=S | delete CONN channel=C seq=S (rule 20).
  void edit_or_delete(std::string_view name, Args& args, std::vector<std::string>& out) {
    const RequestId request = request_id(args);
    const ChannelId channel = parse_number(required_key(args, "channel"));
    const Seq seq = parse_number(required_key(args, "seq"));
    if (name == "edit") {
      submit(args, client::EditMessage{request, channel, seq, args.required(1, "text")}, out);
    } else {
      submit(args, client::DeleteMessage{request, channel, seq}, out);
    }
  }

  // mute CONN channel=C for=SECONDS | forever | off (rule 21).
  void mute(Args& args, std::vector<std::string>& out) {
    client::MuteChannel mute{request_id(args), parse_number(required_key(args, "channel"))};
    const auto how = args.positional(1).value_or("");
    if (how == "forever") {
      mute.forever = true;
    } else if (auto seconds = args.key("for")) {
      mute.for_us = static_cast<TimeUs>(parse_number(*seconds)) * 1'000'000;
    } else if (how != "off") {
      throw TranscriptError("mute takes for=SECONDS, forever or off");
    }
    submit(args, mute, out);
  }

  // request CONN channel=C accept | delete (rule 22).
  void answer_request(Args& args, std::vector<std::string>& out) {
    client::AnswerRequest answer{request_id(args), parse_number(required_key(args, "channel"))};
    const auto how = args.positional(1).value_or("");
    if (how == "delete") {
      answer.answer = client::RequestAnswer::delete_;
    } else if (how != "accept") {
      throw TranscriptError("request takes accept or delete");
    }
    submit(args, answer, out);
  }

  // Acks the newest delivered entry until the connection is sent nothing new.
  void drain(ConnectionId id, std::vector<std::string>& out) {
    for (int round = 0; round < 1'000'000; ++round) {
      const InboxSeq upto = delivered_[id];
      render(input(Received{id, client::Ack{upto}}), out);
      if (delivered_[id] == upto) return;
    }
    throw TranscriptError("drain did not converge");
  }

  void push_result(Args& args, std::vector<std::string>& out) {
    const std::uint64_t id = parse_number(args.required(0, "intent id"));
    const std::string outcome = args.required(1, "outcome (delivered, dead_token, rejected)");
    PushResult result{id, PushOutcome::delivered};
    if (outcome == "dead_token") {
      result.outcome = PushOutcome::dead_token;
    } else if (outcome == "rejected") {
      result.outcome = PushOutcome::rejected;
    } else if (outcome != "delivered") {
      throw TranscriptError("a push outcome is delivered, dead_token or rejected");
    }
    render(input(result), out);
  }

  // tick [+DURATION] [every=STEP] [heartbeat=c1,c2]: moves the clock on and ticks. With
  // every=, ticks once per STEP like a host (each line then starts with the time), and the
  // connections in heartbeat= send one each heartbeat interval, as a live app does.
  void tick(Args& args, std::vector<std::string>& out) {
    const TimeUs total = parse_duration(args.positional(0).value_or("0s"));
    const auto every = args.key("every");
    std::vector<ConnectionId> beating;
    for (const std::string& name : split_list(args.key("heartbeat").value_or("")))
      beating.push_back(connection(name));
    if (!every) {
      if (!beating.empty()) throw TranscriptError("heartbeat= needs every=");
      now_ += total;
      render(input(Tick{}), out);
      return;
    }
    const TimeUs step = parse_duration(*every);
    if (step <= 0) throw TranscriptError("every= must be positive");
    const TimeUs interval = config_.heartbeat_interval_us;
    for (TimeUs elapsed = 0; elapsed < total;) {
      const TimeUs by = std::min(step, total - elapsed);
      now_ += by;
      elapsed += by;
      const std::string at = format_time(now_) + " ";
      render(input(Tick{}), out, at);
      if (elapsed % interval != 0) continue;
      for (ConnectionId id : beating)
        render(input(Received{id, client::Heartbeat{}}), out, at);
    }
  }

  std::string store_diff() {
    const auto now = store_.contents();
    std::map<std::string, std::size_t> changed;  // table -> keys added, changed or removed
    for (const auto& [key, value] : now) {
      const auto before = mark_->find(key);
      if (before == mark_->end() || before->second != value) ++changed[key.first];
    }
    for (const auto& [key, value] : *mark_) {
      if (!now.contains(key)) ++changed[key.first];
    }
    if (changed.empty()) return "store unchanged since store-mark";
    std::string text = "store changed since store-mark:";
    for (const auto& [table, keys] : changed)
      text += " " + table + " (" + std::to_string(keys) + (keys == 1 ? " key)" : " keys)");
    return text;
  }

  std::string connection_name(ConnectionId id) const {
    if (id == 0) return "http";
    const auto found = names_.find(id);
    return found == names_.end() ? "conn " + std::to_string(id) : found->second;
  }

  // One line per effect; SendEvent and CloseConnection name the connection as the file does.
  void render(const Effects& effects, std::vector<std::string>& out,
              const std::string& prefix = "") {
    for (const Effect& effect : effects) {
      std::string line;
      if (const auto* send = std::get_if<SendEvent>(&effect)) {
        line = connection_name(send->connection) + " <- " + describe(send->event);
        if (const auto* deliver = std::get_if<server::Deliver>(&send->event);
            deliver && !deliver->entries.empty()) {
          InboxSeq& upto = delivered_[send->connection];
          upto = std::max(upto, deliver->entries.back().inbox_seq);
        }
      } else if (const auto* close = std::get_if<CloseConnection>(&effect)) {
        line = connection_name(close->connection) +
               " closed: " + std::string(to_string(close->reason));
      } else if (search::apply(index_, effect)) {
        continue;  // the host's index, not a line: `search` shows it
      } else if (const auto* asked = std::get_if<SearchRequested>(&effect)) {
        // Answered as the node's search worker answers it, from the index.
        line = connection_name(asked->connection) + " <- " +
               describe(server::Event{search::answer(index_, *asked)});
      } else {
        line = describe(effect);
      }
      // One effect, one line: the file format separates commands with blank lines.
      out.push_back(prefix + replace_all(std::move(line), "\n", "\\n"));
    }
  }

  RecordingStore store_;
  search::SearchIndex index_{":memory:"};  // what a host keeps (docs/search.md)
  EngineConfig config_;
  std::unique_ptr<host::Core> core_;
  TimeUs now_ = kStart;
  std::map<std::string, UserId> users_;
  std::map<std::string, std::pair<UserId, DeviceId>> devices_;
  std::map<std::string, ConnectionId> connections_;
  std::map<ConnectionId, std::string> names_;
  std::map<ConnectionId, InboxSeq> delivered_;  // the newest inbox seq sent to each
  ConnectionId next_connection_ = 1;
  RequestId next_request_ = 1;
  std::uint64_t next_msg_ = 1;
  std::optional<std::map<std::pair<std::string, std::string>, std::string>> mark_;
};

}  // namespace

std::vector<std::string> run_file(const std::string& path, const Options& options) {
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    if (!in) return {path + ": cannot read file"};
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  const std::vector<Block> blocks = parse_blocks(lines);
  if (blocks.empty()) return {path + ": no commands"};

  std::vector<std::string> failures;
  std::vector<std::vector<std::string>> actual;
  Interpreter interpreter(options);
  for (const Block& block : blocks) {
    const std::string where = path + ":" + std::to_string(block.line) + ": " + block.command;
    try {
      Command command = tokenize(block.command);
      actual.push_back(interpreter.run(command));
    } catch (const TranscriptError& error) {
      failures.push_back(where + "\n  transcript error: " + error.what());
      return failures;
    } catch (const std::exception& error) {
      failures.push_back(where + "\n  the engine threw: " + error.what());
      return failures;
    }
    if (options.rewrite) continue;
    if (!block.has_separator) {
      failures.push_back(where + "\n  no ---- line after the command; its output would be:\n" +
                         diff({}, actual.back()));
    } else if (actual.back() != block.expected) {
      failures.push_back(where + "\n  output differs (- expected, + actual):\n" +
                         diff(block.expected, actual.back()) +
                         "  (PARLEY_REWRITE=1 rewrites the file with the actual output)");
    }
  }
  if (!options.rewrite) return failures;

  const std::vector<std::string> rewritten = rewrite(lines, blocks, actual);
  if (rewritten != lines) {
    std::ofstream out(path, std::ios::trunc);
    for (const std::string& line : rewritten)
      out << line << "\n";
    if (!out) failures.push_back(path + ": cannot rewrite the file");
  }
  return failures;
}

}  // namespace parley::testing::transcript
