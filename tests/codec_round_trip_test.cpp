// The wire codec (net/wire/codec.hpp): every frame through both encodings and back.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/describe.hpp"

#include "tests/codec_helpers.hpp"

namespace parley::net::codec_test {
namespace {

TEST(CodecRoundTrip, EveryClientFrameBothEncodings) {
  std::set<std::size_t> covered;
  for (const auto& frame : all_client_frames()) {
    if (const auto* request = std::get_if<client::Request>(&frame))
      covered.insert(request->index());
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      const std::string bytes = encode_client_frame(frame, encoding);
      SCOPED_TRACE(std::string(name(encoding)) + ": " +
                   (encoding == Encoding::json ? bytes : std::to_string(bytes.size()) + " bytes"));
      const auto decoded = decode_client_ok(bytes, encoding);
      EXPECT_TRUE(same(decoded, frame));
    }
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<client::Request>);
}

TEST(CodecRoundTrip, EveryServerEventBothEncodings) {
  std::set<std::size_t> covered;
  std::set<ErrorCode> codes;
  for (const auto& event : all_server_events()) {
    covered.insert(event.index());
    if (const auto* failure = std::get_if<server::Failure>(&event)) codes.insert(failure->code);
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      const std::string bytes = encode_server_event(event, encoding);
      SCOPED_TRACE(std::string(name(encoding)) + ": " + engine::describe(event));
      auto decoded = decode_server_event(bytes, encoding);
      if (const auto* error = std::get_if<DecodeError>(&decoded)) {
        ADD_FAILURE() << error->message << "\n" << bytes;
        continue;
      }
      EXPECT_TRUE(same(std::get<server::Event>(decoded), event))
          << engine::describe(std::get<server::Event>(decoded));
    }
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<server::Event>);
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(engine::kLastErrorCode));
}

TEST(CodecRoundTrip, BinaryAndJsonDecodeToTheSameRequest) {
  for (const auto& frame : all_client_frames()) {
    const auto from_binary =
        decode_client_ok(encode_client_frame(frame, Encoding::binary), Encoding::binary);
    const auto from_json =
        decode_client_ok(encode_client_frame(frame, Encoding::json), Encoding::json);
    EXPECT_TRUE(same(from_binary, from_json)) << encode_client_frame(frame, Encoding::json);
  }
}

TEST(CodecRoundTrip, BinaryFramesNeedNoAlignment) {
  // A WebSocket library may hand over bytes at any address.
  const std::string bytes =
      encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::binary);
  std::string shifted = "x" + bytes;
  const auto decoded = decode_client_ok(std::string_view(shifted).substr(1), Encoding::binary);
  EXPECT_TRUE(same(decoded, ClientFrame{client::Send{7, 0, 2, "c1", "hi"}}));
}

TEST(CodecRoundTrip, TextThatIsNotUtf8SurvivesJson) {
  // The engine never sends such text, but what a JSON frame carried (a lone surrogate
  // arrives as its 3-byte form) must encode and decode back to the same bytes.
  const std::vector<std::string> texts = {"x\xED\xA0\x80y", "\xff\xfe", "\xC3",
                                          std::string("\x01\x7f") + std::string(1, '\0')};
  for (const auto& text : texts) {
    const ClientFrame frame = client::Send{1, 2, 0, text, text};
    const auto decoded =
        decode_client_ok(encode_client_frame(frame, Encoding::json), Encoding::json);
    EXPECT_TRUE(same(decoded, frame)) << encode_client_frame(frame, Encoding::json);
  }
}

}  // namespace
}  // namespace parley::net::codec_test
