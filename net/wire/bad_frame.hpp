// The errors the wire decoders throw for a frame that does not decode; codec.cpp turns each
// into a DecodeError. Internal to parley_codec.
#pragma once

#include <stdexcept>

namespace parley::net {

// A frame that parsed but is not acceptable; its message goes to the client as is.
class BadFrame : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A text frame that is not JSON (the JSON mapping's grammar: docs/protocol.md#json), or that
// nests too deeply. Such a frame never names a request, whatever it holds.
class JsonSyntaxError : public BadFrame {
 public:
  using BadFrame::BadFrame;
};

}  // namespace parley::net
