#include "net/node/config.hpp"

#include <toml++/toml.h>
#include <functional>
#include <map>
#include <stdexcept>

namespace parley::net {
namespace {

using Setter = std::function<void(const toml::node&)>;

template <typename T>
T value_of(const toml::node& node, const std::string& key) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto v = node.value<std::string>()) return *v;
    throw std::invalid_argument(key + ": expected a string");
  } else if constexpr (std::is_same_v<T, double>) {
    if (auto v = node.value<double>()) return *v;
    throw std::invalid_argument(key + ": expected a number");
  } else {
    const auto v = node.value<std::int64_t>();
    if (!v || !node.is_integer() || *v < 0)
      throw std::invalid_argument(key + ": expected an integer >= 0");
    return static_cast<T>(*v);
  }
}

std::map<std::string, Setter> setters(NodeConfig& c) {
  std::map<std::string, Setter> s;
  const auto text = [&](const char* key, std::string& field) {
    s[key] = [&field, key](const toml::node& n) { field = value_of<std::string>(n, key); };
  };
  const auto whole = [&](const char* key, auto& field) {
    using T = std::decay_t<decltype(field)>;
    s[key] = [&field, key](const toml::node& n) { field = value_of<T>(n, key); };
  };
  const auto number = [&](const char* key, double& field) {
    s[key] = [&field, key](const toml::node& n) { field = value_of<double>(n, key); };
  };
  const auto millis = [&](const char* key, engine::TimeUs& field) {
    s[key] = [&field, key](const toml::node& n) {
      field = value_of<engine::TimeUs>(n, key) * 1000;
    };
  };
  const auto seconds = [&](const char* key, engine::TimeUs& field) {
    s[key] = [&field, key](const toml::node& n) {
      field = value_of<engine::TimeUs>(n, key) * 1'000'000;
    };
  };
  text("listen", c.listen);
  text("data", c.data);
  text("public_url", c.public_url);
  text("web_root", c.web_root);
  text("port_file", c.port_file);
  whole("io_threads", c.io_threads);
  whole("batch_max", c.batch.max_inputs);
  whole("batch_wait_us", c.batch.max_wait_us);
  whole("commit_interval_us", c.batch.commit_interval_us);
  whole("queue_max", c.queue_max);
  whole("queue_delay_max_ms", c.queue_delay_max_ms);
  whole("initial_map_mib", c.initial_map_mib);
  whole("max_frame_bytes", c.max_frame_bytes);
  whole("outbound_frames_max", c.outbound_frames_max);
  whole("outbound_bytes_max", c.outbound_bytes_max);
  whole("handshake_timeout_ms", c.handshake_timeout_ms);
  whole("ping_after_ms", c.ping_after_ms);
  number("rate_limit_per_second", c.rate_limit_per_second);
  number("rate_limit_burst", c.rate_limit_burst);
  whole("max_http_body_bytes", c.max_http_body_bytes);
  whole("max_connections_per_address", c.max_connections_per_address);
  whole("max_map_mib", c.max_map_mib);
  whole("token_ttl_hours", c.token_ttl_hours);
  number("login_attempts_per_minute", c.login_attempts_per_minute);
  whole("argon2_opslimit", c.password.opslimit);
  s["argon2_memlimit_kib"] = [&c](const toml::node& n) {
    c.password.memlimit_bytes = value_of<std::size_t>(n, "argon2_memlimit_kib") * 1024;
  };
  whole("delivery_batch", c.engine.delivery_batch);
  whole("delivery_window", c.engine.delivery_window);
  whole("delivery_batch_bytes", c.engine.delivery_batch_bytes);
  whole("history_page_bytes", c.engine.history_page_bytes);
  whole("push_outbox_max", c.engine.push_outbox_max);
  text("push_gateway", c.push.url);
  whole("push_timeout_ms", c.push.timeout_ms);
  whole("push_retry_initial_ms", c.push.retry_initial_ms);
  whole("push_retry_max_ms", c.push.retry_max_ms);
  whole("delivery_window_bytes", c.engine.delivery_window_bytes);
  millis("heartbeat_interval_ms", c.engine.heartbeat_interval_us);
  millis("presence_timeout_ms", c.engine.presence_timeout_us);
  millis("push_collapse_ms", c.engine.push_collapse_window_us);
  seconds("edit_window_s", c.engine.edit_window_us);
  seconds("delete_window_s", c.engine.delete_window_us);
  text("etcd", c.etcd);
  text("node_name", c.node_name);
  text("peer_address", c.peer_address);
  text("role", c.role);
  text("cluster_prefix", c.cluster_prefix);
  whole("lease_ttl_s", c.lease_ttl_s);
  whole("etcd_timeout_ms", c.etcd_timeout_ms);
  whole("trim_hold_s", c.trim_hold_s);
  return s;
}

}  // namespace

void load_config_file(const std::string& path, NodeConfig& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    throw std::runtime_error(path + ":" + std::to_string(error.source().begin.line) + ": " +
                             std::string(error.description()));
  }
  auto known = setters(config);
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string where = path + ":" + std::to_string(key.source().begin.line) + ": ";
    const auto setter = known.find(name);
    if (setter == known.end()) throw std::runtime_error(where + "unknown key '" + name + "'");
    try {
      setter->second(node);
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(where + error.what());
    }
  }
}

}  // namespace parley::net
