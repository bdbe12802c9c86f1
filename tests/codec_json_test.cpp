// The wire codec (net/wire/codec.hpp): the JSON text format, exact and hand-written.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "tests/codec_helpers.hpp"

namespace parley::net::codec_test {
namespace {

TEST(CodecJson, ExactTextOfFrames) {
  EXPECT_EQ(encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::json),
            R"({"send":{"request":"7","channel":"0","peer":"2","clientMsgId":"c1","text":"hi",)"
            R"("replyTo":"0"}})");
  EXPECT_EQ(encode_client_frame(Hello{1, 0}, Encoding::json),
            R"({"hello":{"request":"1","cursor":"0"}})");
  EXPECT_EQ(encode_client_frame(client::Heartbeat{}, Encoding::json), R"({"heartbeat":{}})");
  EXPECT_EQ(encode_client_frame(client::Ack{5}, Encoding::json), R"({"ack":{"inboxSeq":"5"}})");
  EXPECT_EQ(encode_client_frame(client::ChangeContact{3, client::ContactAction::unblock, 9},
                                Encoding::json),
            R"({"changeContact":{"request":"3","action":"unblock","user":"9"}})");
  EXPECT_EQ(encode_client_frame(client::History{4, 5, 0, 50}, Encoding::json),
            R"({"history":{"request":"4","channel":"5","beforeSeq":"0","limit":50}})");

  EXPECT_EQ(encode_server_event(server::Failure{7, ErrorCode::not_a_member, "not a member"},
                                Encoding::json),
            R"({"failure":{"request":"7","code":"not_a_member","message":"not a member"}})");
  EXPECT_EQ(
      encode_server_event(server::SendAck{7, 5, 9, -3, true}, Encoding::json),
      R"({"sendAck":{"request":"7","channel":"5","seq":"9","serverTime":"-3","duplicate":true}})");
  EXPECT_EQ(encode_server_event(server::Presence{{4, true, 10}}, Encoding::json),
            R"({"presence":{"user":"4","online":true,"lastActiveAt":"10"}})");
  EXPECT_EQ(
      encode_server_event(server::UnreadCounts{16, 7, {{5, 3}}}, Encoding::json),
      R"({"unreadCounts":{"request":"16","total":"7","channels":[{"channel":"5","count":"3"}],)"
      R"("more":false}})");
  EXPECT_EQ(encode_server_event(
                server::Deliver{{{3, event_message(6, 2, MessageKind::member_added, {14})}}},
                Encoding::json),
            R"({"deliver":{"entries":[{"inboxSeq":"3","message":{"channel":"6","seq":"2",)"
            R"("kind":"member_added","sender":"11","senderDevice":"21","serverTime":"42",)"
            R"("clientMsgId":"","text":"","users":["14"],"target":"0","editedSeq":"0",)"
            R"("deleted":false,"replyTo":"0","mentions":[]}}]}})");
  EXPECT_EQ(
      encode_server_event(server::ContactList{1, {{2, "al", engine::ContactState::blocked, false}}},
                          Encoding::json),
      R"({"contactList":{"request":"1","contacts":[)"
      R"({"user":"2","name":"al","state":"blocked","mutual":false}]}})");
  EXPECT_EQ(
      encode_server_event(
          server::ChannelList{
              17,
              {{9, engine::ChannelKind::group, "Climbing", 2, 3, true, {{2, "alice"}, {3, "bob"}}},
               {7, engine::ChannelKind::direct, "", 0, 12, false, {}}}},
          Encoding::json),
      R"({"channelList":{"request":"17","channels":[{"channel":"9","kind":"group",)"
      R"("name":"Climbing","admin":"2","lastSeq":"3","active":true,"members":[)"
      R"({"user":"2","name":"alice"},{"user":"3","name":"bob"}],"readSeq":"0",)"
      R"("mutedUntil":"0","mutedForever":false,"request":false,"clearedSeq":"0"},{"channel":"7",)"
      R"("kind":"direct","name":"","admin":"0","lastSeq":"12","active":false,)"
      R"("members":[],"readSeq":"0","mutedUntil":"0","mutedForever":false,"request":false,"clearedSeq":"0"}],"more":false}})");
  EXPECT_EQ(encode_client_frame(client::ListChannels{17}, Encoding::json),
            R"({"listChannels":{"request":"17","after":"0","limit":50}})");
  EXPECT_EQ(encode_client_frame(client::ListChannels{17, 9, 100}, Encoding::json),
            R"({"listChannels":{"request":"17","after":"9","limit":100}})");
  EXPECT_EQ(encode_client_frame(client::QueryUnread{3, 9}, Encoding::json),
            R"({"queryUnread":{"request":"3","after":"9"}})");
  EXPECT_EQ(encode_server_event(server::UnreadCounts{3, 5, {{9, 5}}, true}, Encoding::json),
            R"({"unreadCounts":{"request":"3","total":"5","channels":[{"channel":"9",)"
            R"("count":"5"}],"more":true}})");
}

// Clients written before paging send listChannels and queryUnread with a request id only:
// they get the first page (50 channels, or 500 unread counts) and `more`.
TEST(CodecJson, PagingFieldsDefaultForOlderClients) {
  const auto list = std::get<engine::client::Request>(
      decode_client_ok(R"({"listChannels":{"request":"17"}})", Encoding::json));
  ASSERT_TRUE(std::holds_alternative<client::ListChannels>(list));
  EXPECT_EQ(std::get<client::ListChannels>(list).after, 0u);
  EXPECT_EQ(std::get<client::ListChannels>(list).limit, engine::limits::kDefaultChannelPage);
  const auto unread = std::get<engine::client::Request>(
      decode_client_ok(R"({"queryUnread":{"request":"3"}})", Encoding::json));
  ASSERT_TRUE(std::holds_alternative<client::QueryUnread>(unread));
  EXPECT_EQ(std::get<client::QueryUnread>(unread).after, 0u);
}

// Typing frames as docs/protocol.md shows them; a start is the default, so
// {"typing":{"channel":"9"}} means "typing" (in binary too: the schema's default is true).
TEST(CodecJson, TypingFrames) {
  EXPECT_EQ(encode_client_frame(client::Typing{18, 9, true}, Encoding::json),
            R"({"typing":{"request":"18","channel":"9","typing":true}})");
  EXPECT_EQ(encode_server_event(server::Typing{9, 3, false, 6'000'000}, Encoding::json),
            R"({"typing":{"channel":"9","user":"3","typing":false,"ttlUs":"6000000"}})");
  const auto start = request_of(decode_client_ok(R"({"typing":{"channel":"9"}})", Encoding::json));
  EXPECT_TRUE(same(start, client::Typing{0, 9, true}));
  const auto stop = request_of(decode_client_ok(
      R"({"typing":{"request":"2","channel":"9","typing":false}})", Encoding::json));
  EXPECT_TRUE(same(stop, client::Typing{2, 9, false}));
}

// Edit and delete frames as docs/protocol.md shows them; a message from before edits and
// replies (no target, editedSeq, deleted, replyTo or mentions) reads as unedited.
TEST(CodecJson, EditAndDeleteFrames) {
  EXPECT_EQ(encode_client_frame(client::EditMessage{22, 7, 12, "10:30?"}, Encoding::json),
            R"({"editMessage":{"request":"22","channel":"7","seq":"12","text":"10:30?"}})");
  EXPECT_EQ(encode_client_frame(client::DeleteMessage{23, 7, 12}, Encoding::json),
            R"({"deleteMessage":{"request":"23","channel":"7","seq":"12"}})");
  EXPECT_TRUE(same(
      request_of(decode_client_ok(
          R"({"deleteMessage":{"request":23,"channel":"7","seq":"12","x":1}})", Encoding::json)),
      client::DeleteMessage{23, 7, 12}));
  Message edited = event_message(7, 13, MessageKind::edited, {}, "10:30?");
  edited.target = 12;
  EXPECT_EQ(encode_server_event(server::Deliver{{{44, edited}}}, Encoding::json),
            R"({"deliver":{"entries":[{"inboxSeq":"44","message":{"channel":"7","seq":"13",)"
            R"("kind":"edited","sender":"11","senderDevice":"21","serverTime":"42",)"
            R"("clientMsgId":"","text":"10:30?","users":[],"target":"12","editedSeq":"0",)"
            R"("deleted":false,"replyTo":"0","mentions":[]}}]}})");
  auto old = decode_server_event(
      R"({"historyPage":{"request":"3","channel":"7","messages":[{"channel":"7","seq":"12",)"
      R"("kind":"text","sender":"2","text":"hi"}]}})",
      Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(old));
  const auto& page = std::get<server::HistoryPage>(std::get<server::Event>(old));
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(page.messages[0].target, 0u);
  EXPECT_EQ(page.messages[0].edited_seq, 0u);
  EXPECT_FALSE(page.messages[0].deleted);
  EXPECT_EQ(page.messages[0].reply_to, 0u);  // nor a reply, nor mentions (rule 21)
  EXPECT_TRUE(page.messages[0].mentions.empty());
  Message tombstone = page.messages[0];
  tombstone.text.clear();
  tombstone.deleted = true;
  tombstone.edited_seq = 13;
  auto back = decode_server_event(
      encode_server_event(server::HistoryPage{3, 7, {tombstone}, false}, Encoding::json),
      Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(back));
  EXPECT_TRUE(same(std::get<server::Event>(back), server::HistoryPage{3, 7, {tombstone}, false}));
}

// Message request frames exactly as docs/protocol.md's examples show them, and the answer
// spelled as an ordinal (1 is delete) or refused when it names no answer.
TEST(CodecJson, MessageRequestFrames) {
  EXPECT_EQ(encode_client_frame(client::AnswerRequest{26, 11, client::RequestAnswer::accept},
                                Encoding::json),
            R"({"answerRequest":{"request":"26","channel":"11","answer":"accept"}})");
  EXPECT_EQ(encode_server_event(server::RequestAnswered{27, 12, client::RequestAnswer::delete_, 3},
                                Encoding::json),
            R"({"requestAnswered":{"request":"27","channel":"12","answer":"delete",)"
            R"("clearedSeq":"3"}})");
  EXPECT_TRUE(
      same(request_of(decode_client_ok(
               R"({"answerRequest":{"request":"27","channel":"12","answer":1}})", Encoding::json)),
           client::AnswerRequest{27, 12, client::RequestAnswer::delete_}));
  for (const char* bad : {R"({"answerRequest":{"request":"1","channel":"2","answer":"reject"}})",
                          R"({"answerRequest":{"request":"1","channel":"2","answer":2}})",
                          R"({"answerRequest":{"request":"1","channel":"2","answer":"Accept"}})"}) {
    EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_client_frame(bad, Encoding::json)))
        << bad;
  }
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_server_event(
      R"({"requestAnswered":{"request":"1","channel":"2","answer":7,"clearedSeq":"0"}})",
      Encoding::json)));
}

// Search frames exactly as docs/protocol.md's example shows them; the limit defaults to 20
// (the schema's default, as the engine's) when a client leaves it out.
TEST(CodecJson, SearchFrames) {
  EXPECT_EQ(encode_client_frame(client::Search{28, "satur", 0, 20}, Encoding::json),
            R"({"search":{"request":"28","query":"satur","offset":0,"limit":20}})");
  EXPECT_EQ(
      encode_server_event(
          server::SearchResults{
              28,
              {{9, 3, 3, 1732790100000000, {{"", false}, {"Saturday", true}, {" at 10?", false}}}},
              false},
          Encoding::json),
      R"({"searchResults":{"request":"28","hits":[{"channel":"9","seq":"3","sender":"3",)"
      R"("serverTime":"1732790100000000","snippet":[{"text":"","match":false},)"
      R"({"text":"Saturday","match":true},{"text":" at 10?","match":false}]}],"more":false}})");
  EXPECT_TRUE(same(
      request_of(decode_client_ok(R"({"search":{"request":"5","query":"lunch"}})", Encoding::json)),
      client::Search{5, "lunch", 0, 20}));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_client_frame(
      R"({"search":{"request":"5","query":"x","limit":"many"}})", Encoding::json)));
}

// Reply and mute frames exactly as docs/protocol.md's examples show them; a quote is
// written only for a reply.
TEST(CodecJson, ReplyAndMuteFrames) {
  EXPECT_EQ(encode_client_frame(client::Send{24, 9, 0, "a7", "@bob yes, 10:30", 3}, Encoding::json),
            R"({"send":{"request":"24","channel":"9","peer":"0","clientMsgId":"a7",)"
            R"("text":"@bob yes, 10:30","replyTo":"3"}})");
  Message reply;
  reply.channel = 9;
  reply.seq = 4;
  reply.sender = 2;
  reply.sender_device = 5;
  reply.server_time = 1732790120000000;
  reply.client_msg_id = "a7";
  reply.text = "@bob yes, 10:30";
  reply.reply_to = 3;
  reply.mentions = {3};
  reply.quote = {3, "Saturday at 10?", false, false, false};
  EXPECT_EQ(
      encode_server_event(server::Deliver{{{46, reply}}}, Encoding::json),
      R"({"deliver":{"entries":[{"inboxSeq":"46","message":{"channel":"9","seq":"4","kind":"text",)"
      R"("sender":"2","senderDevice":"5","serverTime":"1732790120000000","clientMsgId":"a7",)"
      R"("text":"@bob yes, 10:30","users":[],"target":"0","editedSeq":"0","deleted":false,)"
      R"("replyTo":"3","mentions":["3"],"quote":{"sender":"3","text":"Saturday at 10?",)"
      R"("edited":false,"deleted":false,"unavailable":false}}}]}})");
  Message plain = reply;
  plain.reply_to = 0;
  const std::string plain_json =
      encode_server_event(server::Deliver{{{46, plain}}}, Encoding::json);
  EXPECT_EQ(plain_json.find("quote"), std::string::npos) << plain_json;
  EXPECT_EQ(
      encode_client_frame(client::MuteChannel{25, 9, 3'600'000'000, false}, Encoding::json),
      R"({"muteChannel":{"request":"25","channel":"9","forUs":"3600000000","forever":false}})");
  EXPECT_EQ(
      encode_server_event(server::ChannelMute{25, 9, 1732793720000000, false}, Encoding::json),
      R"({"channelMute":{"request":"25","channel":"9","mutedUntil":"1732793720000000",)"
      R"("forever":false}})");
  // As the protocol's prose writes them: forever alone, and neither (an unmute).
  EXPECT_TRUE(
      same(request_of(decode_client_ok(
               R"({"muteChannel":{"request":"25","channel":"9","forever":true}})", Encoding::json)),
           client::MuteChannel{25, 9, 0, true}));
  EXPECT_TRUE(same(request_of(decode_client_ok(R"({"muteChannel":{"request":"25","channel":"9"}})",
                                               Encoding::json)),
                   client::MuteChannel{25, 9, 0, false}));
}

// Receipt frames as docs/protocol.md shows them. A settings request without readReceipts
// (or with the union's Void member, `unchanged`, after it) only asks; the codec writes the
// Void member as JsonCodec did, as null.
TEST(CodecJson, ReceiptFrames) {
  EXPECT_EQ(encode_client_frame(client::MarkRead{19, 9, 12}, Encoding::json),
            R"({"markRead":{"request":"19","channel":"9","seq":"12"}})");
  EXPECT_EQ(encode_client_frame(client::QueryReceipts{20, 9}, Encoding::json),
            R"({"queryReceipts":{"request":"20","channel":"9"}})");
  EXPECT_EQ(encode_client_frame(client::Settings{21, false}, Encoding::json),
            R"({"settings":{"request":"21","readReceipts":false}})");
  EXPECT_EQ(encode_client_frame(client::Settings{22, std::nullopt}, Encoding::json),
            R"({"settings":{"request":"22","unchanged":null}})");
  EXPECT_EQ(encode_server_event(server::Receipt{9, {3, 12, 10}}, Encoding::json),
            R"({"receipt":{"channel":"9","user":"3","deliveredSeq":"12","readSeq":"10"}})");
  EXPECT_EQ(encode_server_event(server::Receipts{20, 9, {{2, 12, 12}, {3, 12, 0}}}, Encoding::json),
            R"({"receipts":{"request":"20","channel":"9","entries":[)"
            R"({"user":"2","deliveredSeq":"12","readSeq":"12"},)"
            R"({"user":"3","deliveredSeq":"12","readSeq":"0"}]}})");
  EXPECT_EQ(encode_server_event(server::Settings{0, false}, Encoding::json),
            R"({"settings":{"request":"0","readReceipts":false}})");
  EXPECT_EQ(
      encode_server_event(
          server::ChannelList{17, {{7, engine::ChannelKind::direct, "", 0, 12, true, {}, 11}}},
          Encoding::json),
      R"({"channelList":{"request":"17","channels":[{"channel":"7","kind":"direct",)"
      R"("name":"","admin":"0","lastSeq":"12","active":true,"members":[],)"
      R"("readSeq":"11","mutedUntil":"0","mutedForever":false,"request":false,"clearedSeq":"0"}],"more":false}})");

  const auto request = [](const char* json) {
    return request_of(decode_client_ok(json, Encoding::json));
  };
  EXPECT_TRUE(same(request(R"({"markRead":{"request":"19","channel":"9","seq":"12"}})"),
                   client::MarkRead{19, 9, 12}));
  // Numbers for integers, unknown fields ignored, and a missing field is 0 (the engine
  // refuses channel 0 or seq 0), as in every frame.
  EXPECT_TRUE(same(request(R"({"markRead":{"request":19,"channel":9,"seq":12,"v":[2]}})"),
                   client::MarkRead{19, 9, 12}));
  EXPECT_TRUE(
      same(request(R"({"markRead":{"request":"19","seq":"12"}})"), client::MarkRead{19, 0, 12}));
  EXPECT_TRUE(same(request(R"({"queryReceipts":{"request":"20","channel":"9"}})"),
                   client::QueryReceipts{20, 9}));
  EXPECT_TRUE(same(request(R"({"queryReceipts":{}})"), client::QueryReceipts{0, 0}));
  EXPECT_TRUE(
      same(request(R"({"settings":{"request":"21"}})"), client::Settings{21, std::nullopt}));
  EXPECT_TRUE(same(request(R"({"settings":{"request":"21","readReceipts":true}})"),
                   client::Settings{21, true}));
  EXPECT_TRUE(same(request(R"({"settings":{"request":"21","readReceipts":false}})"),
                   client::Settings{21, false}));
  // The union is its last member named: `unchanged` takes any value.
  EXPECT_TRUE(same(request(R"({"settings":{"readReceipts":true,"unchanged":{"x":1}}})"),
                   client::Settings{0, std::nullopt}));
  EXPECT_TRUE(same(request(R"({"settings":{"unchanged":null,"readReceipts":false}})"),
                   client::Settings{0, false}));

  // Server events: an omitted readReceipts is true (the schema's default, as the engine's);
  // a channel summary from before receipts has readSeq 0.
  auto settings = decode_server_event(R"({"settings":{"request":"4"}})", Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(settings));
  EXPECT_TRUE(same(std::get<server::Event>(settings), server::Settings{4, true}));
  auto list = decode_server_event(
      R"({"channelList":{"request":"1","channels":[{"channel":"4","lastSeq":"3"}]}})",
      Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(list));
  EXPECT_EQ(std::get<server::ChannelList>(std::get<server::Event>(list)).channels.at(0).read_seq,
            0u);
  auto receipt =
      decode_server_event(R"({"receipt":{"channel":"9","user":"3","readSeq":5}})", Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(receipt));
  EXPECT_TRUE(same(std::get<server::Event>(receipt), server::Receipt{9, {3, 0, 5}}));

  // Malformed: refused as the same field of an older frame is, naming the request.
  const auto refused = [](const char* json, const char* like) {
    SCOPED_TRACE(json);
    const DecodeError error = decode_client_error(json, Encoding::json);
    const DecodeError older = decode_client_error(like, Encoding::json);
    EXPECT_EQ(error.message, older.message);
    EXPECT_EQ(error.request, older.request);
    EXPECT_FALSE(error.message.empty());
  };
  refused(R"({"markRead":{"request":"5","channel":"9","seq":"x"}})",
          R"({"history":{"request":"5","channel":"9","beforeSeq":"x"}})");
  refused(R"({"markRead":{"request":"5","channel":"9","seq":-1}})",
          R"({"history":{"request":"5","channel":"9","beforeSeq":-1}})");
  refused(R"({"markRead":{"request":"5","channel":true,"seq":"1"}})",
          R"({"leaveGroup":{"request":"5","channel":true}})");
  refused(R"({"queryReceipts":{"request":"6","channel":"9.5"}})",
          R"({"leaveGroup":{"request":"6","channel":"9.5"}})");
  refused(R"({"queryReceipts":[]})", R"({"leaveGroup":[]})");
  refused(R"({"settings":{"request":"7","readReceipts":"yes"}})",
          R"({"typing":{"request":"7","typing":"yes"}})");
  refused(R"({"settings":{"request":"7","readReceipts":null}})",
          R"({"typing":{"request":"7","typing":null}})");
  refused(R"({"settings":{"request":"7","readReceipts":1}})",
          R"({"typing":{"request":"7","typing":1}})");
  refused(R"({"settings":{"request":"7","unchanged":nul}})",
          R"({"typing":{"request":"7","future":nul}})");
  EXPECT_EQ(
      decode_client_error(R"({"settings":{"request":"7","readReceipts":"yes"}})", Encoding::json)
          .message,
      "malformed JSON frame: Expected boolean value");
  EXPECT_EQ(
      decode_client_error(R"({"markRead":{"request":"5","seq":"x"}})", Encoding::json).request, 5u);
  EXPECT_EQ(
      decode_server_error(R"({"receipts":{"request":"4","entries":{}}})", Encoding::json).request,
      4u);
  EXPECT_FALSE(
      decode_server_error(R"({"receipt":{"channel":"9","deliveredSeq":"-2"}})", Encoding::json)
          .message.empty());
  EXPECT_FALSE(
      decode_server_error(R"({"settings":{"request":"1","readReceipts":"true"}})", Encoding::json)
          .message.empty());
}

TEST(CodecJson, HandWrittenSendDecodes) {
  const auto frame = decode_client_ok(
      R"({"send":{"request":"7","peer":"2","clientMsgId":"c1","text":"hi"}})", Encoding::json);
  EXPECT_TRUE(same(request_of(frame), client::Send{7, 0, 2, "c1", "hi"}));
  // The same request in binary decodes the same way.
  const auto binary = decode_client_ok(
      encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::binary), Encoding::binary);
  EXPECT_TRUE(same(frame, binary));
}

TEST(CodecJson, HandWrittenFramesOfEveryKind) {
  struct Case {
    const char* json;
    ClientFrame expected;
  };
  const Case cases[] = {
      {R"({"hello":{"request":"1","cursor":"42"}})", Hello{1, 42}},
      {R"({"hello":{}})", Hello{0, 0}},
      // Numbers are accepted for integers (exact up to 2^53 - 1), and whitespace is fine.
      {R"( { "send" : { "request" : 7 , "channel" : 5 , "clientMsgId" : "c" , "text" : "x" } } )",
       client::Request{client::Send{7, 5, 0, "c", "x"}}},
      {R"({"ack":{"inboxSeq":"18446744073709551615"}})", client::Request{client::Ack{kMaxU64}}},
      // An omitted limit is 50; an omitted beforeSeq is 0 (from the newest).
      {R"({"history":{"request":"3","channel":"5"}})",
       client::Request{client::History{3, 5, 0, 50}}},
      {R"({"history":{"request":"3","channel":"5","beforeSeq":"9","limit":"20"}})",
       client::Request{client::History{3, 5, 9, 20}}},
      {R"({"createGroup":{"request":"4","name":"team","members":["2",3]}})",
       client::Request{client::CreateGroup{4, "team", {2, 3}}}},
      {R"({"addMember":{"request":"5","channel":"6","user":"7"}})",
       client::Request{client::AddMember{5, 6, 7}}},
      {R"({"removeMember":{"request":"5","channel":"6","user":"7"}})",
       client::Request{client::RemoveMember{5, 6, 7}}},
      {R"({"leaveGroup":{"request":"5","channel":"6"}})",
       client::Request{client::LeaveGroup{5, 6}}},
      {R"({"logout":{"request":"8"}})", client::Request{client::Logout{8}}},
      {R"({"heartbeat":{}})", client::Request{client::Heartbeat{}}},
      {R"({"changeContact":{"request":"9","action":"block","user":"2"}})",
       client::Request{client::ChangeContact{9, client::ContactAction::block, 2}}},
      // An enum may also be sent as its ordinal.
      {R"({"changeContact":{"request":"9","action":3,"user":"2"}})",
       client::Request{client::ChangeContact{9, client::ContactAction::unblock, 2}}},
      {R"({"listContacts":{"request":"10"}})", client::Request{client::ListContacts{10}}},
      {R"({"queryPresence":{"request":"11","users":["2","3"]}})",
       client::Request{client::QueryPresence{11, {2, 3}}}},
      {R"({"registerPushToken":{"request":"12","platform":"web","token":"t"}})",
       client::Request{client::RegisterPushToken{12, "web", "t"}}},
      {R"({"unregisterPushToken":{"request":"13"}})",
       client::Request{client::UnregisterPushToken{13}}},
      {R"({"queryUnread":{"request":"14"}})", client::Request{client::QueryUnread{14}}},
      // Unknown fields are ignored, at the top level and inside an alternative.
      {R"({"v":2,"queryUnread":{"request":"14","future":[1,{"x":null}]}})",
       client::Request{client::QueryUnread{14}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_TRUE(same(decode_client_ok(c.json, Encoding::json), c.expected));
  }
}

TEST(CodecJson, UnicodeEscapesDecodeCorrectly) {
  // Cap'n Proto 0.9.2 gets these wrong on its own (hex letters, surrogate pairs); the codec
  // decodes them itself.
  const auto frame = decode_client_ok(
      R"({"send":{"request":"1","peer":"2","clientMsgId":"\u0063\u0031",)"
      R"("text":"\u00e9\u20AC\ud83d\ude00\u0041\u001b\u0000\"\\\/\u0022\u005c\n"}})",
      Encoding::json);
  const auto request = request_of(frame);
  const auto& send = std::get<client::Send>(request);
  EXPECT_EQ(send.client_msg_id, "c1");
  EXPECT_EQ(send.text, std::string("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
                                   "A\x1B") +
                           std::string(1, '\0') + "\"\\/\"\\\n");
}

TEST(CodecJson, EscapedBackslashBeforeULeavesTextAlone) {
  const auto frame =
      decode_client_ok(R"({"send":{"request":"1","peer":"2","text":"a\\u0041"}})", Encoding::json);
  EXPECT_EQ(std::get<client::Send>(request_of(frame)).text, "a\\u0041");
}

TEST(CodecJson, LoneSurrogateIsPassedToTheEngineAsInvalidUtf8) {
  // Decoding does not judge text: the engine refuses it with invalid_utf8.
  const auto frame =
      decode_client_ok(R"({"send":{"request":"1","peer":"2","text":"x\ud800y"}})", Encoding::json);
  EXPECT_EQ(std::get<client::Send>(request_of(frame)).text, "x\xED\xA0\x80y");
}

TEST(CodecJson, IntegersAreStrict) {
  const auto request_from = [](const std::string& value) {
    return R"({"send":{"request":)" + value + R"(,"peer":"2","text":"x"}})";
  };
  for (const std::string ok :
       {R"("0")", R"("18446744073709551615")", "0", "9007199254740991", "1.0e1", R"("007")"}) {
    SCOPED_TRACE(ok);
    EXPECT_TRUE(
        std::holds_alternative<ClientFrame>(decode_client_frame(request_from(ok), Encoding::json)));
  }
  for (const std::string bad : {R"("18446744073709551616")", R"("-1")", R"(" 7")", R"("7 ")",
                                R"("0x10")", R"("+7")", R"("1e3")", R"("")", "-1", "7.5",
                                "9007199254740993", "1e300", "true", "null", "[]", "{}"}) {
    SCOPED_TRACE(bad);
    const auto error = decode_client_error(request_from(bad), Encoding::json);
    EXPECT_FALSE(error.message.empty());
  }
  // UInt32 (a history limit).
  EXPECT_TRUE(std::holds_alternative<DecodeError>(
      decode_client_frame(R"({"history":{"request":"1","limit":4294967296}})", Encoding::json)));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(
      decode_client_frame(R"({"history":{"request":"1","limit":-1}})", Encoding::json)));
  // Int64 (a time) takes a sign.
  auto decoded = decode_server_event(
      R"({"sendAck":{"request":"1","channel":"2","seq":"3","serverTime":"-5","duplicate":false}})",
      Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(decoded));
  EXPECT_EQ(std::get<server::SendAck>(std::get<server::Event>(decoded)).server_time, -5);
}

TEST(CodecJson, EnumsAndCodesAreSnakeCaseStrings) {
  const std::string deliver = encode_server_event(
      server::Deliver{{{1, event_message(6, 1, MessageKind::group_created, {1, 2}, "g")}}},
      Encoding::json);
  EXPECT_NE(deliver.find(R"("kind":"group_created")"), std::string::npos) << deliver;
  EXPECT_NE(deliver.find(R"("users":["1","2"])"), std::string::npos) << deliver;
  for (auto code = static_cast<std::uint16_t>(ErrorCode::bad_request);
       code <= static_cast<std::uint16_t>(engine::kLastErrorCode); ++code) {
    const auto error_code = static_cast<ErrorCode>(code);
    const std::string json =
        encode_server_event(server::Failure{1, error_code, "m"}, Encoding::json);
    EXPECT_NE(json.find("\"code\":\"" + std::string(engine::to_string(error_code)) + "\""),
              std::string::npos)
        << json;
  }
  // A code this build does not know is refused (not guessed).
  EXPECT_FALSE(
      decode_server_error(R"({"failure":{"request":"3","code":"no_such_code"}})", Encoding::json)
          .message.empty());
}

// What Cap'n Proto's JsonCodec accepted, the codec still accepts (docs/protocol.md#json is
// its description; these are the corners it does not spell out).
TEST(CodecJson, LenientCornersOfTheMappingAreKept) {
  const auto send_text = [](const std::string& json) {
    return std::get<client::Send>(request_of(decode_client_ok(json, Encoding::json))).text;
  };
  // Raw control characters and bytes that are not UTF-8 inside a string are taken as they are
  // (the engine judges text; the node's WebSocket layer refuses non-UTF-8 text frames).
  EXPECT_EQ(send_text("{\"send\":{\"request\":\"1\",\"text\":\"a\tb\x01\xff\xc3\"}}"),
            "a\tb\x01\xff\xc3");
  // Escaped keys name fields like plain ones.
  EXPECT_EQ(send_text(R"({"se\u006ed":{"t\u0065xt":"\u0041"}})"), "A");
  // A number may have an empty fraction; one below double's range is 0.
  const auto history = [](const std::string& json) {
    return std::get<client::History>(request_of(decode_client_ok(json, Encoding::json)));
  };
  EXPECT_EQ(history(R"({"history":{"request":1.,"limit":1.e1}})").limit, 10u);
  EXPECT_EQ(history(R"({"history":{"request":1e-400}})").request, 0u);
  EXPECT_FALSE(
      decode_client_error(R"({"history":{"request":1e}})", Encoding::json).message.empty());
  // A repeated field replaces the earlier one.
  EXPECT_EQ(history(R"({"history":{"request":"1","limit":5,"request":"2"}})").request, 2u);
  // An enum ordinal converts as JsonCodec converted it (truncated, low 16 bits).
  const auto action = [](const std::string& value) {
    const std::string json = R"({"changeContact":{"request":"1","action":)" + value + "}}";
    return std::get<client::ChangeContact>(request_of(decode_client_ok(json, Encoding::json)))
        .action;
  };
  EXPECT_EQ(action("2.9"), client::ContactAction::block);
  EXPECT_EQ(action("65538"), client::ContactAction::block);
  EXPECT_EQ(action("1e10"), client::ContactAction::add);
  // An unknown ordinal is refused only if no later field replaces it.
  EXPECT_EQ(action(R"(9,"action":"remove")"), client::ContactAction::remove);
  EXPECT_EQ(decode_client_error(R"({"changeContact":{"request":"1","action":-1}})", Encoding::json)
                .request,
            1u);
  // `unset` is the union's placeholder: any value, and it unsets the frame only when it comes
  // after the alternative.
  EXPECT_TRUE(same(decode_client_ok(R"({"unset":[1,{"a":2}],"heartbeat":{}})", Encoding::json),
                   ClientFrame{client::Heartbeat{}}));
  EXPECT_FALSE(
      decode_client_error(R"({"heartbeat":{},"unset":5})", Encoding::json).message.empty());
  // Server events: a repeated code replaces the first; an omitted `active` is false.
  auto failure = decode_server_event(
      R"({"failure":{"code":"nope","code":"blocked","request":"3"}})", Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(failure));
  EXPECT_EQ(std::get<server::Failure>(std::get<server::Event>(failure)).code, ErrorCode::blocked);
  auto list =
      decode_server_event(R"({"channelList":{"channels":[{"channel":"4"}]}})", Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(list));
  EXPECT_FALSE(std::get<server::ChannelList>(std::get<server::Event>(list)).channels.at(0).active);
}

// The messages docs/protocol.md#malformed-frames shows.
TEST(CodecJson, DocumentedErrorMessages) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", R"(a JSON frame must be an object naming one alternative, like {"name":{...}})"},
      {R"({"send":5})",
       "malformed JSON frame: expected a JSON object (every alternative and nested struct is an "
       "object)"},
      {R"({"send":{"request":"9","text":5}})", "malformed JSON frame: Expected text value"},
      {R"({"send":{"request":"9","peer":"0x10"}})",
       R"(bad integer (string "0x10"): expected a non-negative 64-bit integer, as a decimal )"
       "string or an exact JSON number up to 2^53-1"},
      {R"({"changeContact":{"request":"12","action":9}})", "unknown contact action 9"},
      {R"({"send":{},"ack":{}})", "the JSON frame names more than one alternative"},
      {R"({"send":)", "malformed JSON frame: JSON message ends prematurely."},
  };
  for (const auto& [json, message] : cases) {
    SCOPED_TRACE(json);
    EXPECT_EQ(decode_client_error(json, Encoding::json).message, message);
  }
  EXPECT_EQ(
      decode_client_error("{}", Encoding::json)
          .message.rfind(
              "the JSON frame names no known alternative (expected one of: hello, send, ack, ", 0),
      0u);
}

}  // namespace
}  // namespace parley::net::codec_test
