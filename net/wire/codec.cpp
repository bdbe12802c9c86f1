// The wire codec: engine types <-> net/wire/parley.capnp, in Cap'n Proto binary or JSON. The
// conversion of each binary frame is in frames.cpp; JSON text frames are written and read
// straight from and into engine types (json.hpp), in the mapping Cap'n Proto's JsonCodec
// defines for the schema (docs/protocol.md#json).
//
// Decoding never throws: every failure (Cap'n Proto's kj::Exception, a std::exception, or a
// frame that parses but breaks a rule the schema cannot express) becomes a DecodeError whose
// message is short, printable ASCII (it is echoed to the client in a Failure).
#include "net/wire/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "net/wire/frames.hpp"
#include "net/wire/json.hpp"

namespace parley::net {
namespace {

namespace wire = ::parley::wire;

// Reader limits for binary frames. The traversal limit is also capped at a small multiple of
// the frame's own size: an honest message reads each of its words about once, so anything
// more is amplification (a tiny frame pointing many times at the same data, or a list of
// zero-sized elements) and is refused before it can allocate much.
constexpr std::uint64_t kMaxTraversalWords = 2u << 20;  // 16 MiB
constexpr std::uint64_t kTraversalWordsPerFrameWord = 8;
constexpr unsigned kNestingLimit = 16;
// DecodeError messages are cut to this many bytes.
constexpr std::size_t kMaxErrorMessageBytes = 300;

// Printable ASCII only, at most kMaxErrorMessageBytes: the message may quote hostile input
// and is sent back in a Failure, inside a JSON text frame that must be valid UTF-8.
std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxErrorMessageBytes));
  for (const char c : text) {
    if (out.size() == kMaxErrorMessageBytes) break;
    const auto byte = static_cast<unsigned char>(c);
    out += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  return out;
}

// Cap'n Proto's descriptions read "expected <condition> [values]; <message>; <name> = <value>".
// Keeps the part a client author can act on.
std::string describe(const kj::Exception& e) {
  const std::string text = e.getDescription().cStr();
  if (text.rfind("expected ", 0) == 0) {
    const auto separator = text.find("; ");
    if (separator != std::string::npos) return text.substr(separator + 2);
  }
  return text;
}

// Reads a binary frame and hands its root to `convert`, inside the reader's lifetime.
template <typename Frame, typename Convert>
auto decode_binary(std::string_view bytes, Convert&& convert) {
  if (bytes.empty()) throw BadFrame("empty binary frame");
  if (bytes.size() % sizeof(capnp::word) != 0) {
    throw BadFrame("binary frame of " + std::to_string(bytes.size()) +
                   " bytes: a Cap'n Proto message is a whole number of 8-byte words");
  }
  // Copy: the frame's bytes need not be word-aligned.
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      std::min<std::uint64_t>(kMaxTraversalWords, kTraversalWordsPerFrameWord * words.size());
  options.nestingLimit = kNestingLimit;
  capnp::FlatArrayMessageReader reader(words, options);
  if (reader.getEnd() != words.end()) {
    throw BadFrame("binary frame has bytes after the end of its Cap'n Proto message");
  }
  return convert(reader.getRoot<Frame>());
}

// ---- Shared plumbing -----------------------------------------------------------------------

template <typename Frame, typename Fill>
std::string encode_binary(Fill&& fill) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<Frame>();
  fill(root);
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Decodes a frame into the engine type `Result`; never throws. `read_json` reads text,
// `read_binary` the root of a binary frame.
template <typename Frame, typename Result, typename ReadJson, typename ReadBinary>
std::variant<Result, DecodeError> decode(std::string_view bytes, Encoding encoding,
                                         ReadJson&& read_json, ReadBinary&& read_binary) {
  const char* const what = encoding == Encoding::json ? "JSON" : "binary";
  engine::RequestId request = 0;
  try {
    if (encoding == Encoding::json) return read_json(bytes, request);
    return decode_binary<Frame>(
        bytes, [&](typename Frame::Reader root) -> Result { return read_binary(root, request); });
  } catch (const BadFrame& e) {
    return DecodeError{request, sanitize(e.what())};
  } catch (const kj::Exception& e) {
    return DecodeError{request,
                       sanitize(std::string("malformed ") + what + " frame: " + describe(e))};
  } catch (const std::exception& e) {
    return DecodeError{request, sanitize(std::string("malformed ") + what + " frame: " + e.what())};
  } catch (...) {
    return DecodeError{request, std::string("malformed ") + what + " frame"};
  }
}

}  // namespace

std::variant<ClientFrame, DecodeError> decode_client_frame(std::string_view bytes,
                                                           Encoding encoding) {
  return decode<wire::ClientFrame, ClientFrame>(bytes, encoding, json::read_client_frame,
                                                read_client_frame);
}

std::string encode_server_event(const engine::server::Event& event, Encoding encoding) {
  if (encoding == Encoding::json) return json::write_server_event(event);
  return encode_binary<wire::ServerFrame>(
      [&](wire::ServerFrame::Builder root) { fill_server_frame(root, event); });
}

std::string encode_client_frame(const ClientFrame& frame, Encoding encoding) {
  if (encoding == Encoding::json) return json::write_client_frame(frame);
  return encode_binary<wire::ClientFrame>(
      [&](wire::ClientFrame::Builder root) { fill_client_frame(root, frame); });
}

std::variant<engine::server::Event, DecodeError> decode_server_event(std::string_view bytes,
                                                                     Encoding encoding) {
  return decode<wire::ServerFrame, engine::server::Event>(bytes, encoding, json::read_server_event,
                                                          read_server_frame);
}

}  // namespace parley::net
