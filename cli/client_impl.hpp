// The terminal client behind `parley client` (cli/client_command.hpp), inside: its options,
// the stdin reader and the one TerminalClient class. Internal to cli/: only the client_*.cpp
// files include it.
//
// TerminalClient's member functions are defined across files, one per part of the client:
//   client_session.cpp   account and connection: sign-up, login, the WebSocket, the main loop
//   client_input.cpp     commands: the lines typed (or scripted) on stdin, sent as requests
//   client_events.cpp    events: what each server event changes (script mode prints it)
//   client_display.cpp   interactive output: events in words, with names instead of ids
// client_command.cpp adds the subcommand: its flags and the --server address.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/client/client.hpp"

namespace parley::cli::detail {

namespace client = engine::client;
namespace server = engine::server;
using Clock = std::chrono::steady_clock;

// Exit statuses (docs/client.md).
constexpr int kExitOk = 0;
constexpr int kExitConnectionLost = 1;  // also: requests unanswered after stdin ended
constexpr int kExitRefused = 2;         // bad flags, sign-up or login refused, no connection

struct ClientOptions {
  std::string server = "127.0.0.1:8080";
  std::string name;
  std::string password;
  std::string password_env;
  bool signup = false;
  engine::DeviceId device = 0;
  engine::InboxSeq cursor = 0;
  bool script = false;
  int linger_ms = 500;
  std::string encoding = "json";
};

struct ServerAddress {
  std::string host;  // an IP address: the client library connects to addresses only
  std::uint16_t port = 0;
};

// "code: message" from an HTTP error body, or the raw body when it has another shape.
std::string http_error_text(const net::HttpResult& result);  // client_session.cpp

// Lines from stdin, read on their own thread so the socket is served while nobody types.
class StdinLines {
 public:
  StdinLines()
      : reader_([this] {
          std::string line;
          while (std::getline(std::cin, line)) {
            const std::lock_guard lock(mutex_);
            lines_.push_back(line);
          }
          const std::lock_guard lock(mutex_);
          eof_ = true;
        }) {
    reader_.detach();  // it may sit in getline forever; the process exits around it
  }
  std::optional<std::string> next() {
    const std::lock_guard lock(mutex_);
    if (lines_.empty()) return std::nullopt;
    auto line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }
  // Stdin ended and every line was taken.
  bool finished() {
    const std::lock_guard lock(mutex_);
    return eof_ && lines_.empty();
  }

 private:
  std::mutex mutex_;
  std::deque<std::string> lines_;
  bool eof_ = false;
  std::thread reader_;
};

// "#12" -> 12; "#0", "#x", "#" -> 0 (client_edits.cpp).
engine::Seq seq_argument(const std::string& word);
// Local wall-clock time of a node timestamp (microseconds since the Unix epoch): the time
// alone for today, with the date otherwise (client_display.cpp).
std::string local_time(engine::TimeUs at_us);

class TerminalClient {
 public:
  TerminalClient(const ClientOptions& options, const ServerAddress& address)
      : options_(options),
        server_(address),
        http_(std::make_unique<net::HttpClient>(address.host, address.port)),
        ws_(std::make_unique<net::WsClient>(address.host, address.port)),
        encoding_(options.encoding == "binary" ? net::Encoding::binary : net::Encoding::json) {}

  int run();

 private:
  // Account and connection.
  int log_in();
  int connect();
  int serve(StdinLines& input);
  // After a connection broke (not closed for good): asks discovery where to go, connects
  // there with the cursor and sends every unanswered request again. False after a minute
  // of failed tries.
  bool reconnect();
  void resend_in_flight();
  std::vector<ServerAddress> discovery_candidates();
  // From GET /v1/discover's body: the gateways (kept) and where to connect (returned).
  std::optional<ServerAddress> learn_gateways(const std::string& discovery);
  void discover_gateways();

  // Commands.
  void run_ready_commands(StdinLines& input);
  void command(const std::string& line);
  void send_typing(const std::vector<std::string>& args);
  // Receipts (client_receipts.cpp).
  bool require_channel() const;
  void mark_read(const std::vector<std::string>& args);
  void query_receipts(const std::vector<std::string>& args);
  void change_read_receipts(const std::vector<std::string>& args);
  void note_seen(engine::ChannelId channel, engine::Seq seq);
  void show_receipt(const server::Receipt& receipt);
  void show_receipts(const server::Receipts& receipts);
  void show_settings(const server::Settings& settings);
  void show_typing(const engine::server::Typing& typing);
  // Replies, mentions and mute (client_replies.cpp).
  void reply(const std::string& rest);
  void mute(const std::vector<std::string>& args);
  void show_mute(const server::ChannelMute& mute);
  // " (re #3 alice: lunch?)" for a reply, else empty.
  std::string reply_text(const engine::Message& message) const;
  // " [mentions you]" when the message names this user, else empty.
  std::string mention_text(const engine::Message& message) const;
  // Message requests and blocking (client_requests.cpp).
  void list_requests();
  void answer_request(client::RequestAnswer answer);
  void block(const std::string& name, bool unblock);
  // A /requests answer's page; `next_page`: the request id of the page asked for after it.
  void collect_requests(const server::ChannelList& list,
                        std::optional<engine::RequestId> next_page);
  void show_request_answered(const server::RequestAnswered& answered);
  void note_requests(const server::Event& event);
  // " [request]" for someone else's message in a chat that is a message request for you.
  std::string request_mark(const engine::Message& message) const;
  // The message (or the one an edit or delete changes) lies in a request you deleted: a new
  // device is still delivered it, and shows nothing of it.
  bool cleared(const engine::Message& message) const;
  // Search (client_search.cpp).
  void search(const std::string& words);
  void search_more();
  void show_search_results(const server::SearchResults& results);
  // Edits and deletes (client_edits.cpp).
  engine::Seq edit_target(const std::string& verb, const std::string& rest,
                          std::string& after) const;
  void edit_message(const std::string& rest);
  void delete_message(const std::string& rest);
  // "alice edited #7 in "trip": new text"; empty for a superseded edit. `where` as in
  // show_message (" in ...", " to you", or empty for the open chat).
  std::string edit_text(const engine::Message& message, const std::string& where) const;
  void open_direct_chat(const std::string& name);
  void open_group(const std::string& name);
  void create_group(const std::vector<std::string>& args);
  void add_contact(const std::string& name);
  void show_history(const std::vector<std::string>& args);
  void send_text(const std::string& text);
  std::optional<engine::UserId> resolve(const std::string& name);
  engine::RequestId request(client::Request request);

  // Events.
  void on_event(const server::Event& event);
  void react(const server::Event& event);
  void on_send_ack(const server::SendAck& ack);
  void on_group_created(const server::GroupCreated& created);
  void on_channel_list(const server::ChannelList& list);
  void on_contact_list(const server::ContactList& contacts);
  void learn_channel_labels(const server::ChannelList& list);

  // Interactive output.
  void present(const server::Event& event);
  bool mentions_unknown(const server::Event& event) const;
  void request_names();
  // `listed`: the lookup was answered (not timed out), so a channel it did not name is one
  // the node no longer lists for you: a message request you deleted.
  void show_held_events(bool listed = false);
  void show(const server::Event& event);
  void show_message(const engine::Message& message);
  void show_who_presence(const server::PresenceList& list);
  void show_unread(const server::UnreadCounts& unread);
  std::string message_text(const engine::Message& message) const;
  std::string name_of(engine::UserId user) const;
  std::string channel_label(engine::ChannelId channel) const;
  void say(const std::string& line) const {
    if (!options_.script) std::cout << line << std::endl;
  }
  void client_error(const std::string& message) const;

  void heartbeat_if_due();

  const ClientOptions& options_;
  ServerAddress server_;                 // --server
  std::vector<ServerAddress> gateways_;  // every gateway the last discovery named
  bool discovered_ = false;              // --server answered /v1/discover
  Clock::time_point last_discovery_;
  std::unique_ptr<net::HttpClient> http_;  // the node the WebSocket is on
  std::unique_ptr<net::WsClient> ws_;
  net::Encoding encoding_;
  std::string token_;
  engine::UserId me_ = 0;
  engine::DeviceId device_ = 0;
  engine::RequestId next_request_ = 2;  // 1 is the hello
  std::set<engine::RequestId> unanswered_;
  // Every unanswered request but the hello, sent again after a reconnect (sends keep their
  // client_msg_id, so the node answers a stored one as a duplicate).
  std::map<engine::RequestId, client::Request> in_flight_;
  engine::InboxSeq cursor_ = 0;  // the highest inbox entry received: the next hello's cursor
  Clock::time_point last_heartbeat_ = Clock::now();
  engine::TimeUs heartbeat_us_ = 5'000'000;
  std::string msg_id_prefix_;
  std::uint64_t messages_sent_ = 0;
  bool quit_ = false;

  // The open chat: a channel, or a peer whose 1:1 channel the first sendAck will name.
  engine::ChannelId channel_ = 0;
  engine::UserId peer_ = 0;
  // A request whose answer decides the open chat (/to, /group, /create). The next line
  // waits for it, so that `/create x bob` followed by a message goes to the new group.
  std::optional<engine::RequestId> chat_decider_;

  // What each request was for, to act on its answer.
  std::map<engine::RequestId, engine::UserId> peer_sends_;
  std::map<engine::RequestId, engine::UserId> direct_lookups_;
  std::map<engine::RequestId, std::string> group_lookups_;
  std::map<engine::RequestId, std::string> group_creates_;
  std::set<engine::RequestId> who_contact_lists_;
  std::set<engine::RequestId> who_presence_queries_;
  std::map<engine::RequestId, std::string> ok_notes_;  // interactive: what an `ok` means

  // Interactive mode shows names, not ids. Events that mention a user or channel it cannot
  // name are held while one listContacts + listChannels pair fetches the names.
  std::map<engine::UserId, std::string> names_;
  std::map<engine::ChannelId, std::string> channel_labels_;
  // The last /search: its words, the hits shown so far, whether more follow, and the id
  // of the request whose answer is shown (an older one's is not).
  std::string search_query_;
  std::uint32_t search_offset_ = 0;
  bool search_more_ = false;
  engine::RequestId search_request_ = 0;
  std::set<engine::ChannelId> direct_channels_;
  std::map<engine::ChannelId, engine::UserId> direct_peers_;
  std::set<engine::RequestId> name_requests_;
  std::vector<server::Event> held_;
  Clock::time_point held_since_;
  // Who is typing where, since when (by this clock): one line per stretch of typing, not per
  // refresh. A stop, a message from them there, or the ttl ends a stretch.
  std::map<std::pair<engine::ChannelId, engine::UserId>, Clock::time_point> typing_seen_;
  // Messages printed already in their edited state: (channel, seq) -> the edit they showed,
  // so the `edited` entry that follows in a backlog adds no second line. Forgotten past
  // kShownEditsMax entries (a line printed twice is the worst that can happen then).
  // A message printed as deleted maps to kShownDeleted: its edits and delete add no line.
  std::map<std::pair<engine::ChannelId, engine::Seq>, engine::Seq> shown_edits_;
  static constexpr std::size_t kShownEditsMax = 10'000;
  static constexpr engine::Seq kShownDeleted = ~engine::Seq{0};
  std::set<engine::UserId> nameless_users_;  // still unknown after a lookup: not asked again
  std::set<engine::ChannelId> nameless_channels_;
  // Receipts: the newest seq shown per channel (what /read marks), this client's newest
  // message per channel (what /receipts counts readers of), and /receipts queries.
  std::map<engine::ChannelId, engine::Seq> newest_seen_;
  std::map<engine::ChannelId, engine::Seq> last_sent_;
  std::set<engine::RequestId> receipt_queries_;
  // This client's acked messages whose delivery back to it has not come yet: at stdin's
  // end the client waits for them, so its own last line is shown.
  std::set<std::pair<engine::ChannelId, engine::Seq>> echoes_due_;
  // Message requests: the chats the node said are requests for you, and /requests answers
  // being gathered page by page (the labels so far).
  std::set<engine::ChannelId> request_channels_;
  std::map<engine::RequestId, std::vector<std::string>> request_lists_;
  // Deleted requests: clearedSeq from listChannels and requestAnswered, or, for a channel the
  // node no longer lists at all, the newest seq held when the lookup said so.
  std::map<engine::ChannelId, engine::Seq> cleared_;
};

}  // namespace parley::cli::detail
