#include "cluster/etcd_client.hpp"

#include <sodium.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <utility>

namespace parley::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

std::string to_base64(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string from_base64(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    throw EtcdError("etcd answered with invalid base64");
  }
  out.resize(length);
  return out;
}

template <typename Number>
Number parse_number(std::string_view text, std::string_view name) {
  Number value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw EtcdError("etcd answered with a non-numeric " + std::string(name));
  }
  return value;
}

// proto3's JSON mapping writes int64 as a string and leaves out zero values.
std::int64_t int64_field(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) return 0;
  if (value->is_string()) return parse_number<std::int64_t>(value->as_string(), name);
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  throw EtcdError("etcd answered with a non-numeric " + std::string(name));
}

// Member ids are uint64: they may not fit an int64.
std::uint64_t uint64_field(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) return 0;
  if (value->is_string()) return parse_number<std::uint64_t>(value->as_string(), name);
  if (value->is_uint64()) return value->as_uint64();
  if (value->is_int64() && value->as_int64() >= 0)
    return static_cast<std::uint64_t>(value->as_int64());
  throw EtcdError("etcd answered with a non-numeric " + std::string(name));
}

std::string bytes_field(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value == nullptr ? std::string() : from_base64(value->as_string());
}

std::vector<KeyValue> key_values(const json::object& range) {
  std::vector<KeyValue> out;
  if (const auto* kvs = range.if_contains("kvs")) {
    for (const auto& item : kvs->as_array()) {
      const auto& kv = item.as_object();
      out.push_back(KeyValue{bytes_field(kv, "key"), bytes_field(kv, "value"),
                             int64_field(kv, "create_revision"), int64_field(kv, "mod_revision"),
                             int64_field(kv, "version"), int64_field(kv, "lease")});
    }
  }
  return out;
}

json::object range_request(std::string_view key, std::string_view range_end, std::int64_t limit,
                           bool descending) {
  json::object request{{"key", to_base64(key)}};
  if (!range_end.empty()) request["range_end"] = to_base64(range_end);
  if (limit > 0) request["limit"] = std::to_string(limit);
  if (descending) {
    request["sort_order"] = "DESCEND";
    request["sort_target"] = "KEY";
  }
  return request;
}

json::object compare_json(const Compare& compare) {
  static constexpr const char* kResults[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
  json::object out{{"key", to_base64(compare.key)},
                   {"result", kResults[static_cast<int>(compare.result)]}};
  switch (compare.target) {
    case Compare::Target::version:
      out["target"] = "VERSION";
      out["version"] = std::to_string(compare.number);
      break;
    case Compare::Target::create_revision:
      out["target"] = "CREATE";
      out["create_revision"] = std::to_string(compare.number);
      break;
    case Compare::Target::mod_revision:
      out["target"] = "MOD";
      out["mod_revision"] = std::to_string(compare.number);
      break;
    case Compare::Target::value:
      out["target"] = "VALUE";
      out["value"] = to_base64(compare.value);
      break;
  }
  return out;
}

json::object op_json(const Op& op) {
  switch (op.kind) {
    case Op::Kind::put: {
      json::object put{{"key", to_base64(op.key)}, {"value", to_base64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return json::object{{"request_put", std::move(put)}};
    }
    case Op::Kind::erase: {
      json::object erase{{"key", to_base64(op.key)}};
      if (!op.range_end.empty()) erase["range_end"] = to_base64(op.range_end);
      return json::object{{"request_delete_range", std::move(erase)}};
    }
    case Op::Kind::range:
      return json::object{{"request_range", range_request(op.key, op.range_end, 0, false)}};
  }
  return {};
}

json::array ops_json(const std::vector<Op>& ops) {
  json::array out;
  for (const Op& op : ops)
    out.push_back(op_json(op));
  return out;
}

}  // namespace

// The largest answer read: far above any range read parley makes (a batch is at most
// etcd's request limit of 1.5 MiB, and reads ask for a bounded number of entries).
constexpr std::uint64_t kMaxResponseBytes = 256ull << 20;

struct EtcdClient::Impl {
  std::vector<std::string> endpoints;
  std::chrono::milliseconds timeout;
  std::size_t current = 0;  // the endpoint that answered last
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;  // kept alive between requests
  beast::flat_buffer buffer;

  // One request to the current endpoint; nothing when it failed or timed out.
  std::optional<http::response<http::string_body>> exchange(const std::string& target,
                                                            const std::string& body) {
    const std::string& endpoint = endpoints[current];
    const auto colon = endpoint.rfind(':');
    beast::error_code failure;
    std::optional<http::response<http::string_body>> answer;
    if (!stream) {
      stream.emplace(io);
      buffer.clear();
      tcp::resolver resolver(io);
      const auto addresses =
          resolver.resolve(endpoint.substr(0, colon), endpoint.substr(colon + 1), failure);
      if (failure) return close();
      stream->expires_after(timeout);
      stream->async_connect(addresses,
                            [&](beast::error_code ec, const tcp::endpoint&) { failure = ec; });
      io.restart();
      io.run();
      if (failure) return close();
    }
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, endpoint);
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::response_parser<http::string_body> parser;
    // Beast's default of 8 MB would turn a large range read (entries are base64 on the
    // wire) into an endpoint failure; etcd's own answers stay far below this.
    parser.body_limit(kMaxResponseBytes);
    stream->expires_after(timeout);
    http::async_write(*stream, request, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        failure = ec;
        return;
      }
      http::async_read(*stream, buffer, parser,
                       [&](beast::error_code read_ec, std::size_t) { failure = read_ec; });
    });
    io.restart();
    io.run();
    if (failure) return close();
    answer.emplace(parser.release());
    if (!answer->keep_alive()) stream.reset();
    return answer;
  }

  std::nullopt_t close() {
    stream.reset();
    return std::nullopt;
  }

  // Posts `request` to `path`, moving through the endpoints until one answers.
  json::object call(const std::string& path, const json::object& request) {
    const std::string body = json::serialize(request);
    for (std::size_t attempt = 0; attempt < endpoints.size(); ++attempt) {
      // A kept-alive connection the member closed while idle fails at once: that says
      // nothing about the member, so try it once more on a new connection first.
      const bool reused = stream.has_value();
      auto response = exchange(path, body);
      if (!response && reused) response = exchange(path, body);
      if (response) {
        json::value parsed;
        try {
          parsed = json::parse(response->body());
        } catch (const std::exception&) {
          throw EtcdError("etcd answered " + path + " with invalid JSON");
        }
        if (!parsed.is_object()) throw EtcdError("etcd answered " + path + " with a non-object");
        auto& object = parsed.as_object();
        if (response->result() == http::status::ok && !object.contains("error")) {
          return std::move(object);
        }
        // gRPC code 14 (unavailable: no leader, or the member is stopping), 4 (deadline) and
        // 1 (cancelled: "the client connection is closing", from a member stopping
        // gracefully): another member may serve it. Retrying is safe for every call the log
        // makes: an append is guarded by its compares, so one that did land is index_taken.
        const std::int64_t code = error_code(object);
        if (code != 14 && code != 4 && code != 1) {
          throw EtcdError("etcd refused " + path + ": " + response->body());
        }
        stream.reset();
      }
      current = (current + 1) % endpoints.size();
    }
    throw host::LogUnavailable("no etcd endpoint answered " + path);
  }

  // A unary call's error is {"error": "...", "code": N}; a streamed call's (lease
  // keep-alive) is {"error": {"grpc_code": N, ...}} inside a 200 answer.
  static std::int64_t error_code(const json::object& answer) {
    if (const auto* error = answer.if_contains("error"); error != nullptr && error->is_object()) {
      return int64_field(error->as_object(), "grpc_code");
    }
    return int64_field(answer, "code");
  }
};

EtcdClient::EtcdClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  if (endpoints.empty()) throw std::invalid_argument("EtcdClient: no endpoints");
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  impl_->endpoints = std::move(endpoints);
  impl_->timeout = timeout;
}

EtcdClient::~EtcdClient() = default;

std::vector<KeyValue> EtcdClient::range(std::string_view key, std::string_view range_end,
                                        std::int64_t limit, bool descending) {
  return key_values(impl_->call("/v3/kv/range", range_request(key, range_end, limit, descending)));
}

TxnResult EtcdClient::txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                          const std::vector<Op>& failure) {
  json::array compare_array;
  for (const Compare& compare : compares)
    compare_array.push_back(compare_json(compare));
  const json::object answer =
      impl_->call("/v3/kv/txn", json::object{{"compare", std::move(compare_array)},
                                             {"success", ops_json(success)},
                                             {"failure", ops_json(failure)}});
  TxnResult result;
  const auto* succeeded = answer.if_contains("succeeded");
  result.succeeded = succeeded != nullptr && succeeded->as_bool();
  result.revision = int64_field(answer.at("header").as_object(), "revision");
  if (const auto* responses = answer.if_contains("responses")) {
    for (const auto& response : responses->as_array()) {
      if (const auto* range = response.as_object().if_contains("response_range")) {
        result.ranges.push_back(key_values(range->as_object()));
      }
    }
  }
  return result;
}

std::int64_t EtcdClient::erase(std::string_view key, std::string_view range_end) {
  json::object request{{"key", to_base64(key)}};
  if (!range_end.empty()) request["range_end"] = to_base64(range_end);
  return int64_field(impl_->call("/v3/kv/deleterange", request), "deleted");
}

std::int64_t EtcdClient::lease_grant(std::int64_t ttl_seconds) {
  const auto answer = impl_->call("/v3/lease/grant", json::object{{"TTL", ttl_seconds}});
  const std::int64_t id = int64_field(answer, "ID");
  if (id == 0) throw EtcdError("etcd granted no lease: " + json::serialize(answer));
  return id;
}

std::int64_t EtcdClient::lease_keep_alive(std::int64_t lease) {
  const auto answer =
      impl_->call("/v3/lease/keepalive", json::object{{"ID", std::to_string(lease)}});
  const auto* result = answer.if_contains("result");
  return result == nullptr ? 0 : int64_field(result->as_object(), "TTL");
}

void EtcdClient::lease_revoke(std::int64_t lease) {
  try {
    impl_->call("/v3/lease/revoke", json::object{{"ID", std::to_string(lease)}});
  } catch (const EtcdError&) {
    // Already expired or revoked: the same outcome.
  }
}

EtcdClient::MemberStatus EtcdClient::status() {
  const auto answer = impl_->call("/v3/maintenance/status", json::object{});
  return MemberStatus{uint64_field(answer.at("header").as_object(), "member_id"),
                      uint64_field(answer, "leader")};
}

std::string EtcdClient::prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string put_if_absent(EtcdClient& client, const std::string& key, const std::string& value) {
  // A read first: a key that exists needs no write, and etcd refuses every transaction that
  // holds a put once its space quota is full.
  if (const auto existing = client.range(key); !existing.empty()) return existing.front().value;
  const auto result =
      client.txn({Compare{key, Compare::Target::version, Compare::Result::equal, 0, {}}},
                 {Op{Op::Kind::put, key, value, {}, 0}}, {Op{Op::Kind::range, key, {}, {}, 0}});
  if (result.succeeded) return value;
  if (result.ranges.empty() || result.ranges.front().empty())
    throw EtcdError("etcd holds no " + key + " although the transaction said it did");
  return result.ranges.front().front().value;
}

}  // namespace parley::cluster
