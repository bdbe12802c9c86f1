// cluster::RelaySession: the rules a gateway re-attaches a client by (production's
// GatewayLink and the simulator's gateways run them): the hello at the acked cursor and the
// unanswered sends replayed in order; no delivery or welcome repeated; acks held until the
// upstream sent that far; other requests in flight answered not_leader; a refused replay
// re-attaches.
#include "cluster/relay_session.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace parley::cluster {
namespace {

using namespace parley::engine;
using Session = RelaySession<std::string>;
using Client = Session::ClientAction;
using Upstream = Session::UpstreamAction;

client::Request send(RequestId request, const std::string& id) {
  return client::Send{request, 1, 2, id, "hi"};
}

server::Event deliver(InboxSeq from, InboxSeq to) {
  server::Deliver d;
  for (InboxSeq seq = from; seq <= to; ++seq)
    d.entries.push_back(InboxEntry{seq, Message{}});
  return d;
}

std::vector<InboxSeq> seqs(const server::Event& event) {
  std::vector<InboxSeq> out;
  for (const InboxEntry& entry : std::get<server::Deliver>(event).entries)
    out.push_back(entry.inbox_seq);
  return out;
}

// Attached and welcomed at `cursor`, as a client is after its first hello.
Session welcomed(InboxSeq cursor) {
  Session session;
  session.attach();
  EXPECT_EQ(session.on_hello(7, cursor), Client::forward);
  server::Event welcome = server::Welcome{};
  EXPECT_EQ(session.on_event(welcome), Upstream::pass);
  return session;
}

TEST(RelaySession, ReattachReplaysTheHelloAtTheAckedCursorThenTheUnansweredSendsInOrder) {
  Session session = welcomed(3);
  EXPECT_EQ(session.on_request(send(11, "a"), "frame-a"), Client::forward);
  EXPECT_EQ(session.on_request(send(12, "b"), "frame-b"), Client::forward);
  EXPECT_EQ(session.on_request(send(13, "c"), "frame-c"), Client::forward);
  server::Event ack = server::SendAck{12, 1, 1, 0, false};
  EXPECT_EQ(session.on_event(ack), Upstream::pass);
  server::Event entries = deliver(4, 6);
  EXPECT_EQ(session.on_event(entries), Upstream::pass);
  EXPECT_EQ(session.on_request(client::Ack{5}, "ack"), Client::absorbed);
  EXPECT_EQ(session.ack_to_forward(), std::optional<InboxSeq>(5));

  session.detach();
  EXPECT_FALSE(session.attached());
  // Sent while detached: kept for the replay, not sent now.
  EXPECT_EQ(session.on_request(send(14, "d"), "frame-d"), Client::absorbed);
  const Session::Resume resume = session.attach();
  ASSERT_TRUE(resume.hello);
  EXPECT_EQ(resume.hello->request, 7u);
  EXPECT_EQ(resume.hello->cursor, 5u) << "the cursor the client acked, not its first hello's";
  EXPECT_EQ(resume.sends, (std::vector<std::string>{"frame-a", "frame-c", "frame-d"}));
}

TEST(RelaySession, ASecondWelcomeAndDeliveriesTheClientHasAreDropped) {
  Session session = welcomed(0);
  server::Event first = deliver(1, 4);
  EXPECT_EQ(session.on_event(first), Upstream::pass);
  EXPECT_EQ(session.on_request(client::Ack{2}, "ack"), Client::absorbed);
  session.detach();
  session.attach();  // the new leader resends from 2, the acked cursor
  server::Event welcome = server::Welcome{};
  EXPECT_EQ(session.on_event(welcome), Upstream::drop);
  server::Event again = deliver(3, 4);
  EXPECT_EQ(session.on_event(again), Upstream::drop);
  server::Event overlap = deliver(3, 6);  // 3 and 4 were given already
  EXPECT_EQ(session.on_event(overlap), Upstream::pass);
  EXPECT_EQ(seqs(overlap), (std::vector<InboxSeq>{5, 6}));
}

TEST(RelaySession, AcksGoUpstreamOnlyAsFarAsThatUpstreamDelivered) {
  Session session = welcomed(0);
  server::Event first = deliver(1, 10);
  EXPECT_EQ(session.on_event(first), Upstream::pass);
  session.detach();
  session.attach();
  // The client acks what the old upstream gave it; the new one has sent nothing yet.
  EXPECT_EQ(session.on_request(client::Ack{10}, "ack"), Client::absorbed);
  EXPECT_EQ(session.ack_to_forward(), std::nullopt);
  server::Event some = deliver(1, 6);
  EXPECT_EQ(session.on_event(some), Upstream::drop);
  EXPECT_EQ(session.ack_to_forward(), std::optional<InboxSeq>(6));
  server::Event rest = deliver(7, 10);
  EXPECT_EQ(session.on_event(rest), Upstream::drop);
  EXPECT_EQ(session.ack_to_forward(), std::optional<InboxSeq>(10));
  EXPECT_EQ(session.ack_to_forward(), std::nullopt) << "each ack once";
  // An ack past anything delivered goes to the leader, which answers invalid_ack.
  EXPECT_EQ(session.on_request(client::Ack{99}, "ack"), Client::forward);
}

TEST(RelaySession, OtherRequestsInFlightAreAnsweredNotLeaderAndRefusedWhileDetached) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(client::ListContacts{21}, "list"), Client::forward);
  EXPECT_EQ(session.on_request(client::QueryUnread{22}, "unread"), Client::forward);
  server::Event answer = server::Ok{22};
  EXPECT_EQ(session.on_event(answer), Upstream::pass);
  EXPECT_EQ(session.detach(), (std::vector<RequestId>{21}));
  EXPECT_EQ(session.on_request(client::ListContacts{23}, "list"), Client::refuse);
  EXPECT_EQ(session.on_request(client::Heartbeat{}, "beat"), Client::absorbed);
  EXPECT_TRUE(session.attach().sends.empty()) << "only sends are replayed";
}

// A typing indicator waits for no answer (it is never in flight), goes nowhere while
// detached, and none is forwarded while a resume waits for its welcome: its only answer, a
// failure, would then read as the new upstream refusing the resume.
TEST(RelaySession, TypingIsForwardedOnlyWhileAttachedAndNotResuming) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(client::Typing{41, 5, true}, "typing"), Client::forward);
  EXPECT_TRUE(session.detach().empty()) << "a typing frame is never waiting for an answer";
  EXPECT_EQ(session.on_request(client::Typing{42, 5, true}, "typing"), Client::absorbed);
  session.attach();
  EXPECT_EQ(session.on_request(client::Typing{43, 5, true}, "typing"), Client::absorbed);
  server::Event welcome = server::Welcome{};
  EXPECT_EQ(session.on_event(welcome), Upstream::drop);
  EXPECT_EQ(session.on_request(client::Typing{44, 5, false}, "typing"), Client::forward);
}

// markRead, queryReceipts and settings each have an answer (ok, receipts, settings): they
// are in flight until it comes, like any request. A receipt, receipts with request 0 (one
// commit's, coalesced), the presence snapshot after a welcome and settings with request 0
// (changed on another device) answer nothing: they pass and leave every request in flight,
// even one the client numbered 0.
TEST(RelaySession, ReceiptRequestsWaitForTheirAnswersAndReceiptEventsAnswerNothing) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(client::MarkRead{51, 5, 3}, "read"), Client::forward);
  EXPECT_EQ(session.on_request(client::QueryReceipts{52, 5}, "receipts"), Client::forward);
  EXPECT_EQ(session.on_request(client::Settings{53, false}, "settings"), Client::forward);
  EXPECT_EQ(session.on_request(client::Settings{54, std::nullopt}, "settings"), Client::forward);
  EXPECT_EQ(session.on_request(client::QueryReceipts{0, 5}, "receipts"), Client::forward);
  EXPECT_EQ(session.on_request(send(0, "s0"), "frame-s0"), Client::forward);
  server::Event receipt = server::Receipt{5, {3, 4, 4}};
  EXPECT_EQ(session.on_event(receipt), Upstream::pass);
  server::Event coalesced = server::Receipts{0, 5, {{3, 4, 4}, {4, 4, 0}}};
  EXPECT_EQ(session.on_event(coalesced), Upstream::pass);
  server::Event snapshot = server::PresenceList{0, {}};  // after every welcome
  EXPECT_EQ(session.on_event(snapshot), Upstream::pass);
  server::Event elsewhere = server::Settings{0, false};
  EXPECT_EQ(session.on_event(elsewhere), Upstream::pass);
  server::Event read = server::Ok{51};
  EXPECT_EQ(session.on_event(read), Upstream::pass);
  server::Event receipts = server::Receipts{52, 5, {{3, 4, 4}}};
  EXPECT_EQ(session.on_event(receipts), Upstream::pass);
  server::Event settings = server::Settings{53, false};
  EXPECT_EQ(session.on_event(settings), Upstream::pass);
  EXPECT_EQ(session.unacked_sends(), 1u)
      << "no event with request 0 (receipts, a presence snapshot, settings) acked send 0";
  EXPECT_EQ(session.detach(), (std::vector<RequestId>{0, 54}));
  EXPECT_EQ(session.on_request(client::MarkRead{55, 5, 4}, "read"), Client::refuse);
  EXPECT_EQ(session.attach().sends, (std::vector<std::string>{"frame-s0"}));
}

// muteChannel waits for its channelMute; a channelMute with request 0 (a mute made on
// another device) answers nothing, even a request the client numbered 0.
TEST(RelaySession, MutesWaitForTheirAnswerAndMutesFromElsewhereAnswerNothing) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(client::MuteChannel{71, 5, 0, true}, "mute"), Client::forward);
  EXPECT_EQ(session.on_request(client::MuteChannel{0, 6, 1'000'000, false}, "mute"),
            Client::forward);
  server::Event elsewhere = server::ChannelMute{0, 7, 0, true};
  EXPECT_EQ(session.on_event(elsewhere), Upstream::pass);
  server::Event answer = server::ChannelMute{71, 5, 0, true};
  EXPECT_EQ(session.on_event(answer), Upstream::pass);
  EXPECT_EQ(session.detach(), (std::vector<RequestId>{0}))
      << "the mute from elsewhere did not answer request 0";
}

// editMessage and deleteMessage wait for their ok like any request; when the upstream is
// lost first they are answered not_leader (detach lists them), not replayed: a retry after
// one landed stores nothing (engine rule 20). The entries themselves come as deliveries.
TEST(RelaySession, EditsAndDeletesWaitForTheirOkAndAreNotReplayed) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(client::EditMessage{61, 5, 3, "new"}, "edit"), Client::forward);
  EXPECT_EQ(session.on_request(client::DeleteMessage{62, 5, 3}, "delete"), Client::forward);
  EXPECT_EQ(session.on_request(client::DeleteMessage{63, 5, 4}, "delete"), Client::forward);
  server::Event edited = server::Ok{61};
  EXPECT_EQ(session.on_event(edited), Upstream::pass);
  EXPECT_EQ(session.detach(), (std::vector<RequestId>{62, 63}));
  EXPECT_TRUE(session.attach().sends.empty());
}

TEST(RelaySession, ALeaderRefusingTheReplayMeansAttachAgain) {
  Session session = welcomed(0);
  EXPECT_EQ(session.on_request(send(31, "a"), "frame-a"), Client::forward);
  session.detach();
  session.attach();
  server::Event busy = server::Failure{31, ErrorCode::overloaded, "busy"};
  EXPECT_EQ(session.on_event(busy), Upstream::reattach);
  server::Event not_leader = server::Failure{7, ErrorCode::not_leader, "not yet"};
  EXPECT_EQ(session.on_event(not_leader), Upstream::reattach) << "the hello itself refused";
  // Once welcomed, an unrelated request's refusal is the client's to handle.
  server::Event welcome = server::Welcome{};
  EXPECT_EQ(session.on_event(welcome), Upstream::drop);
  EXPECT_EQ(session.on_request(client::ListContacts{32}, "list"), Client::forward);
  server::Event other = server::Failure{32, ErrorCode::overloaded, "busy"};
  EXPECT_EQ(session.on_event(other), Upstream::pass);
}

TEST(RelaySession, TooManyUnackedSendsCloseTheClient) {
  Session session = welcomed(0);
  for (RequestId r = 1; r <= Session::kMaxUnackedSends; ++r)
    ASSERT_EQ(session.on_request(send(100 + r, std::to_string(r)), "f"), Client::forward);
  EXPECT_EQ(session.on_request(send(1, "over"), "f"), Client::close);
}

}  // namespace
}  // namespace parley::cluster
