// The wire codec (net/wire/codec.hpp): hostile input is a DecodeError, never a crash.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "tests/codec_helpers.hpp"

namespace parley::net::codec_test {
namespace {

TEST(CodecHostile, BadJsonIsADecodeError) {
  const char* const inputs[] = {
      "",
      " ",
      "{",
      "}",
      R"({"send":)",
      R"({"send":{"request":"1"})",
      R"({"send":{"request":"1"}} trailing)",
      R"({"send":{"request":"1",}})",
      "nul",
      "null",
      "[]",
      "5",
      R"("send")",
      R"({"send":5})",
      R"({"send":null})",
      R"({"send":[]})",
      R"({"send":{"text":5}})",
      R"({"send":{"text":"bad \q escape"}})",
      R"({"send":{"text":"short \u12"}})",
      R"({"send":{"text":"bad \uzzzz hex"}})",
      R"({"heartbeat":null})",
      R"({"queryPresence":{"request":"1","users":"1"}})",
      R"({"queryPresence":{"request":"1","users":[true]}})",
      R"({"changeContact":{"request":"1","action":"Block","user":"2"}})",
      R"({})",
      R"({"bogus":{}})",
      R"({"unset":null})",
      R"({"send":{},"ack":{}})",
      R"({"send":{},"send":{}})",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]"
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      // Nested deeper than the 16 levels allowed.
      R"({"send":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":)"
      R"({"q":{}}}}}}}}}}}}}}}}}})",
  };
  for (const char* input : inputs) {
    SCOPED_TRACE(input);
    const auto error = decode_client_error(input, Encoding::json);
    EXPECT_FALSE(error.message.empty());
    EXPECT_TRUE(printable_ascii(error.message)) << error.message;
    const auto server_error = decode_server_error(input, Encoding::json);
    EXPECT_FALSE(server_error.message.empty());
  }
  // A NUL byte is not JSON (and would cut the text short for Cap'n Proto's parser).
  const std::string with_nul = std::string(R"({"heartbeat":{}})") + std::string(1, '\0') + "x";
  EXPECT_FALSE(decode_client_error(with_nul, Encoding::json).message.empty());
}

TEST(CodecHostile, DecodeErrorNamesTheRequestWhenKnown) {
  EXPECT_EQ(
      decode_client_error(R"({"changeContact":{"request":"12","action":"nope"}})", Encoding::json)
          .request,
      12u);
  EXPECT_EQ(
      decode_client_error(R"({"changeContact":{"request":12,"action":9}})", Encoding::json).request,
      12u);
  EXPECT_EQ(decode_client_error(R"({"send":{"request":"31","text":5}})", Encoding::json).request,
            31u);
  EXPECT_EQ(decode_client_error(R"({"send":{"text":5}})", Encoding::json).request, 0u);
  // Binary: a ChangeContact with request 12 and action 9 (no such action).
  const std::string change_contact = bytes_of({
      0,  0, 0, 0, 6, 0, 0, 0,  // one segment of 6 words
      0,  0, 0, 0, 1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      11, 0, 0, 0, 0, 0, 0, 0,  // union tag 11: changeContact
      0,  0, 0, 0, 3, 0, 0, 0,  // pointer to a struct of 3 data words
      12, 0, 0, 0, 0, 0, 0, 0,  // request 12
      9,  0, 0, 0, 0, 0, 0, 0,  // action 9
      5,  0, 0, 0, 0, 0, 0, 0,  // user 5
  });
  const auto error = decode_client_error(change_contact, Encoding::binary);
  EXPECT_EQ(error.request, 12u);
  EXPECT_NE(error.message.find("contact action"), std::string::npos) << error.message;
}

// A settings request's union holds a member this node does not know (no later version adds
// one: a new setting is a union of its own): refused, naming the request, not taken for a
// query.
TEST(CodecHostile, UnknownSettingsChangeIsRefused) {
  // Settings{9, false} and Settings{9, unchanged} differ only in the union's tag.
  const std::string set = encode_client_frame(client::Settings{9, false}, Encoding::binary);
  std::string unknown = encode_client_frame(client::Settings{9, std::nullopt}, Encoding::binary);
  ASSERT_EQ(set.size(), unknown.size());
  std::size_t tags = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (set[i] == unknown[i]) continue;
    ASSERT_EQ(set[i], 1);
    unknown[i] = 2;  // past readReceipts, the union's last member
    ++tags;
  }
  ASSERT_EQ(tags, 1u);
  const auto error = decode_client_error(unknown, Encoding::binary);
  EXPECT_EQ(error.request, 9u);
  EXPECT_NE(error.message.find("unknown read receipts setting 2"), std::string::npos)
      << error.message;
}

TEST(CodecHostile, BadBinaryIsADecodeError) {
  const std::string valid =
      encode_client_frame(client::Send{7, 0, 2, "c1", "hello there"}, Encoding::binary);
  // Every truncation.
  for (std::size_t size = 0; size < valid.size(); ++size) {
    SCOPED_TRACE(size);
    decode_client_error(valid.substr(0, size), Encoding::binary);
  }
  // Trailing bytes after the message.
  decode_client_error(valid + std::string(8, '\0'), Encoding::binary);
  // An all-zero root (union unset).
  decode_client_error(
      bytes_of({0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
      Encoding::binary);
  // An unknown union tag (a frame type from a newer protocol).
  const std::string unknown_tag = bytes_of({
      0,  0, 0, 0, 3, 0, 0, 0,  // one segment of 3 words
      0,  0, 0, 0, 1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      99, 0, 0, 0, 0, 0, 0, 0,  // union tag 99
      0,  0, 0, 0, 0, 0, 0, 0,  // null pointer
  });
  EXPECT_NE(decode_client_error(unknown_tag, Encoding::binary).message.find("unknown"),
            std::string::npos);
  EXPECT_NE(decode_server_error(unknown_tag, Encoding::binary).message.find("unknown"),
            std::string::npos);
  // JSON sent as a binary frame, and binary sent as a text frame.
  decode_client_error(R"({"heartbeat":{}})", Encoding::binary);
  decode_client_error(encode_client_frame(client::Heartbeat{}, Encoding::binary), Encoding::json);
  // A segment table claiming far more data than there is.
  decode_client_error(bytes_of({0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 1, 0, 1, 0}),
                      Encoding::binary);
  // A huge segment count.
  decode_client_error(bytes_of({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}), Encoding::binary);
}

TEST(CodecHostile, AmplificationIsRefusedQuickly) {
  // A 48-byte Deliver whose entry list claims 2^28 zero-sized entries: reading it would cost
  // far more than the frame's size, so the traversal limit stops it before any allocation.
  const std::string bomb = bytes_of({
      0, 0, 0, 0,    5, 0, 0, 0,  // one segment of 5 words
      0, 0, 0, 0,    1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      2, 0, 0, 0,    0, 0, 0, 0,  // union tag 2: deliver
      0, 0, 0, 0,    0, 0, 1, 0,  // pointer to Deliver: 0 data words, 1 pointer
      1, 0, 0, 0,    7, 0, 0, 0,  // entries: inline-composite list of 0 words
      0, 0, 0, 0x40, 0, 0, 0, 0,  // tag: 2^28 elements of 0 data words, 0 pointers
  });
  const auto start = std::chrono::steady_clock::now();
  const auto error = decode_server_error(bomb, Encoding::binary);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(error.message.empty());
}

TEST(CodecHostile, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 200);
  const std::string json_alphabet = R"({}[]":,\ubnrt0123456789-.eE+ aefsl)";
  std::uniform_int_distribution<std::size_t> json_char(0, json_alphabet.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(length(rng), '\0');
    for (auto& c : bytes)
      c = static_cast<char>(byte(rng));
    // Binary-looking input: a plausible one-segment header over random words.
    if (i % 2 == 0 && bytes.size() >= 8) {
      const std::size_t words = bytes.size() / 8;
      bytes.resize(words * 8);
      std::memset(bytes.data(), 0, 4);
      const auto segment = static_cast<std::uint32_t>(words - 1);
      std::memcpy(bytes.data() + 4, &segment, 4);
    }
    std::string json(length(rng), ' ');
    for (auto& c : json)
      c = json_alphabet[json_char(rng)];
    for (const auto& input : {bytes, json}) {
      for (const auto encoding : {Encoding::binary, Encoding::json}) {
        EXPECT_NO_THROW({
          const auto c = decode_client_frame(input, encoding);
          if (const auto* error = std::get_if<DecodeError>(&c)) {
            EXPECT_TRUE(printable_ascii(error->message)) << error->message;
          }
          (void)decode_server_event(input, encoding);
        });
      }
    }
  }
}

TEST(CodecHostile, MutatedFramesNeverCrash) {
  // Valid frames with a few bytes changed reach much deeper than random bytes.
  std::vector<std::string> seeds;
  for (const auto& frame : all_client_frames()) {
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      seeds.push_back(encode_client_frame(frame, encoding));
    }
  }
  for (const auto& event : all_server_events()) {
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      seeds.push_back(encode_server_event(event, encoding));
    }
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, seeds.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = seeds[pick(rng)];
    std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
    for (int f = flips(rng); f > 0; --f)
      bytes[at(rng)] = static_cast<char>(byte(rng));
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      EXPECT_NO_THROW({
        (void)decode_client_frame(bytes, encoding);
        (void)decode_server_event(bytes, encoding);
      });
    }
  }
}

// A failing frame names the request its alternative names, wherever its "request" field
// stands, unless the frame is not JSON at all or names no single alternative.
TEST(CodecHostile, RequestIdComesFromTheWholeFrame) {
  EXPECT_EQ(decode_client_error(R"({"send":{"text":5,"request":"31"}})", Encoding::json).request,
            31u);
  EXPECT_EQ(
      decode_client_error(R"({"ack":{"request":"5","inboxSeq":"x"}})", Encoding::json).request, 5u);
  EXPECT_EQ(
      decode_client_error(R"({"send":{"request":"5","request":"x","request":"7"}})", Encoding::json)
          .request,
      7u);
  EXPECT_EQ(
      decode_client_error(R"({"send":{"request":"9","text":5},"x":tru})", Encoding::json).request,
      0u);
  EXPECT_EQ(
      decode_client_error(R"({"send":{"request":"9","text":5},"ack":{}})", Encoding::json).request,
      0u);
  EXPECT_EQ(
      decode_server_error(R"({"failure":{"code":"nope","request":"3"}})", Encoding::json).request,
      3u);
}

// Values nobody reads (unknown fields, `unset`) must still be JSON, within the nesting limit.
TEST(CodecHostile, UnreadValuesAreChecked) {
  const std::string fifteen(15, '[');
  const std::string deep = R"({"x":)" + fifteen + std::string(15, ']') + R"(,"heartbeat":{}})";
  EXPECT_TRUE(std::holds_alternative<ClientFrame>(decode_client_frame(deep, Encoding::json)));
  const std::vector<std::string> bad_frames = {
      R"({"x":"\q","heartbeat":{}})",
      R"({"x":"\u12","heartbeat":{}})",
      R"({"x":1e,"heartbeat":{}})",
      R"({"x":-,"heartbeat":{}})",
      R"({"x":01,"heartbeat":{}})",
      R"({"x":tru,"heartbeat":{}})",
      R"({"x":[1,],"heartbeat":{}})",
      R"({"x":{"a":1,},"heartbeat":{}})",
      R"({"x":{"a" 1},"heartbeat":{}})",
      // A string followed by ':' where a ',' belongs, balanced by a '}' too many.
      R"({"listContacts":{"d":"or":"-5"}}})",
      R"({"unset":{"d":"or":"-5"}},"heartbeat":{}})",
      R"({"heartbeat":{}} {})",
      R"({"x":)" + fifteen + "[]" + std::string(15, ']') + R"(,"heartbeat":{}})",
  };
  for (const auto& bad : bad_frames) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(decode_client_error(bad, Encoding::json).request, 0u);
  }
}

}  // namespace
}  // namespace parley::net::codec_test
