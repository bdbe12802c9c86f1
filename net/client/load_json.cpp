// `parley load`'s JSON summary (docs/load.md, "The JSON summary").
#include <boost/json.hpp>

#include <map>
#include <string>

#include "net/client/load.hpp"

namespace parley::net {
namespace {

namespace json = boost::json;

json::object latency_json(const LatencySummary& summary) {
  return {{"samples", summary.samples},
          {"p50_ms", summary.p50_ms},
          {"p99_ms", summary.p99_ms},
          {"p999_ms", summary.p999_ms},
          {"max_ms", summary.max_ms}};
}

json::value node_cpu_json(const std::optional<NodeCpu>& cpu) {
  if (!cpu) return nullptr;
  return json::object{{"window_s", cpu->window_s},
                      {"user_s", cpu->user_s},
                      {"system_s", cpu->system_s},
                      {"us_per_delivered", cpu->us_per_delivered},
                      {"user_us_per_delivered", cpu->user_us_per_delivered},
                      {"system_us_per_delivered", cpu->system_us_per_delivered},
                      {"us_per_sent", cpu->us_per_sent}};
}

json::object counts_json(const std::map<std::string, std::uint64_t>& by_kind) {
  json::object counts;
  for (const auto& [kind, count] : by_kind)
    counts[kind] = count;
  return counts;
}

}  // namespace

std::string to_json(const LoadReport& report) {
  const auto& config = report.config;
  json::object out{
      {"config",
       {{"server", config.host + ":" + std::to_string(config.port)},
        {"connections", config.connections},
        {"duration_s", config.duration_s},
        {"rate", config.rate},
        {"traffic", config.group_size == 0 ? "1:1" : "group"},
        {"group_size", config.group_size},
        {"encoding", config.encoding == Encoding::binary ? "binary" : "json"},
        {"text_bytes", config.text_bytes},
        {"source_addresses", config.source_addresses},
        {"discover", config.discover}}},
      {"setup_s", report.setup_s},
      {"connected", report.connected},
      {"connect_s", report.connect_s},
      {"connects_per_s", report.connect_rate},
      {"node_memory",
       {{"rss_before_bytes", report.node_rss_before},
        {"rss_after_bytes", report.node_rss_after},
        {"anon_before_bytes", report.node_anon_before},
        {"anon_after_bytes", report.node_anon_after},
        {"bytes_per_connection", report.node_bytes_per_connection}}},
      {"sent", report.sent},
      {"acked", report.acked},
      {"duplicate_acks", report.duplicates},
      {"expected_deliveries", report.expected_deliveries},
      {"delivered", report.delivered},
      {"redelivered", report.redelivered},
      {"out_of_order", report.out_of_order},
      {"delivered_twice", report.delivered_twice},
      {"reconnects", report.reconnects},
      {"disconnects_by_kind", counts_json(report.disconnects_by_kind)},
      {"send_window_s", report.send_window_s},
      {"delivered_per_s", report.delivered_per_s},
      {"acked_per_s", report.acked_per_s},
      {"delivery_latency", latency_json(report.delivery)},
      {"ack_latency", latency_json(report.ack)},
      {"node_cpu", node_cpu_json(report.node_cpu)},
      {"errors", report.errors},
      {"errors_by_kind", counts_json(report.errors_by_kind)},
      {"complete", report.complete()},
      {"wall_s", report.wall_s},
  };
  return json::serialize(out);
}

}  // namespace parley::net
