#include "cluster/input_codec.hpp"

#include "engine/overloaded.hpp"
#include "engine/record_codec.hpp"
#include "net/wire/codec.hpp"

namespace parley::cluster {

using namespace parley::engine;
using codec::Reader;
using codec::Writer;

namespace {

// The entry format's version; a replica refuses entries of another. codec::Reader checks it
// against the record version, so the two move together.
constexpr std::uint8_t kBatchVersion = codec::kRecordVersion;

std::string encode_request(const client::Request& request) {
  return net::encode_client_frame(net::ClientFrame{request}, net::Encoding::binary);
}

client::Request decode_request(std::string_view bytes) {
  auto decoded = net::decode_client_frame(bytes, net::Encoding::binary);
  if (const auto* error = std::get_if<net::DecodeError>(&decoded)) {
    throw CorruptEntry("a logged request does not decode: " + error->message);
  }
  auto* request = std::get_if<client::Request>(&std::get<net::ClientFrame>(decoded));
  if (request == nullptr) throw CorruptEntry("a logged request is a hello");
  return std::move(*request);
}

void write_input(Writer& out, const Input& input) {
  out.u64(input.index());
  std::visit(
      Overloaded{
          [&](const Connected& in) { out.u64(in.connection).u64(in.device).u64(in.cursor); },
          [&](const Received& in) { out.u64(in.connection).bytes(encode_request(in.request)); },
          [&](const Disconnected& in) { out.u64(in.connection); },
          [&](const Tick&) {},
          [&](const PushResult& in) { out.u64(in.id).u64(static_cast<std::uint64_t>(in.outcome)); },
          [&](const SignUp& in) { out.bytes(in.name).bytes(in.password_hash); },
          [&](const IssueToken& in) {
            out.u64(in.user).u64(in.device).bytes(in.label).bytes(in.verified_hash);
            out.bytes(in.token_hash).i64(in.expires_at);
          },
          [&](const SignOut& in) {
            out.u64(in.user).u64(in.all_devices ? 1 : 0).u64(in.devices.size());
            for (DeviceId device : in.devices)
              out.u64(device);
          },
          [&](const ChangePassword& in) {
            out.u64(in.user).u64(in.keep_device).bytes(in.new_hash);
          },
          [&](const Stateless& in) {
            out.u64(in.user).u64(in.device).bytes(encode_request(in.request));
          },
      },
      input);
}

Input read_input(Reader& in) {
  switch (in.u64()) {
    case 0: {
      Connected out;
      out.connection = in.u64();
      out.device = in.u64();
      out.cursor = in.u64();
      return out;
    }
    case 1: {
      const ConnectionId connection = in.u64();
      return Received{connection, decode_request(in.bytes())};
    }
    case 2:
      return Disconnected{in.u64()};
    case 3:
      return Tick{};
    case 4: {
      const std::uint64_t id = in.u64();
      return PushResult{id, in.enumeration(PushOutcome::delivered, PushOutcome::rejected)};
    }
    case 5: {
      std::string name = in.bytes();
      return SignUp{std::move(name), in.bytes()};
    }
    case 6: {
      IssueToken out;
      out.user = in.u64();
      out.device = in.u64();
      out.label = in.bytes();
      out.verified_hash = in.bytes();
      out.token_hash = in.bytes();
      out.expires_at = in.i64();
      return out;
    }
    case 7: {
      SignOut out;
      out.user = in.u64();
      out.all_devices = in.u64() != 0;
      const std::uint64_t count = in.u64();
      for (std::uint64_t i = 0; i < count && !in.done(); ++i)
        out.devices.push_back(in.u64());
      if (out.devices.size() != count)
        throw CorruptEntry("a sign-out lists fewer devices than it says");
      return out;
    }
    case 8: {
      ChangePassword out;
      out.user = in.u64();
      out.keep_device = in.u64();
      out.new_hash = in.bytes();
      return out;
    }
    case 9: {
      Stateless out;
      out.user = in.u64();
      out.device = in.u64();
      out.request = decode_request(in.bytes());
      return out;
    }
    default:
      throw CorruptEntry("an input of unknown kind");
  }
}

}  // namespace

static_assert(std::variant_size_v<Input> == 10,
              "a new engine input needs its encoding here (write_input and read_input)");

std::string encode_batch(TimeUs now, std::span<const Input> inputs) {
  Writer out(kBatchVersion);
  out.i64(now).u64(inputs.size());
  for (const Input& input : inputs)
    write_input(out, input);
  return out.take();
}

std::string encode_batch(const LoggedBatch& batch) {
  return encode_batch(batch.now, batch.inputs);
}

LoggedBatch decode_batch(std::string_view bytes) {
  try {
    Reader in(bytes, Table::meta);
    LoggedBatch batch;
    batch.now = in.i64();
    const std::uint64_t count = in.u64();
    for (std::uint64_t i = 0; i < count; ++i) {
      if (in.done()) throw CorruptEntry("a batch holds fewer inputs than it says");
      batch.inputs.push_back(read_input(in));
    }
    in.finish();
    return batch;
  } catch (const StoreError& error) {
    throw CorruptEntry(std::string("a log entry does not decode: ") + error.what());
  }
}

}  // namespace parley::cluster
