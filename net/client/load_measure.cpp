#include "net/client/load_measure.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace parley::net {

NodeMemory read_node_memory(int pid) {
  NodeMemory memory;
  if (pid <= 0) return memory;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (status >> key) {
    if (key == "VmRSS:" || key == "RssAnon:") {
      status >> kib >> unit;
      (key == "VmRSS:" ? memory.rss : memory.anon) = kib * 1024;
    } else {
      status.ignore(1 << 16, '\n');
    }
  }
  return memory;
}

std::optional<CpuTicks> read_node_cpu(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // Field 2, the command name, is in parentheses and may itself hold spaces and ')'.
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string skipped;
  for (int field = 3; field < 14; ++field)
    fields >> skipped;
  CpuTicks ticks;
  if (!(fields >> ticks.user >> ticks.system)) return std::nullopt;
  return ticks;
}

double ticks_to_s(std::uint64_t ticks) {
  static const long per_second = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(ticks) / static_cast<double>(per_second > 0 ? per_second : 100);
}

LatencySummary summarize(std::vector<std::uint32_t>& micros) {
  LatencySummary summary;
  summary.samples = micros.size();
  if (micros.empty()) return summary;
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1));
    return static_cast<double>(micros[index]) / 1000.0;
  };
  summary.p50_ms = at(0.50);
  summary.p99_ms = at(0.99);
  summary.p999_ms = at(0.999);
  summary.max_ms = static_cast<double>(micros.back()) / 1000.0;
  return summary;
}

}  // namespace parley::net
