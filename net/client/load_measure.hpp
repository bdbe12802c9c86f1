// What `parley load` measures besides its own counters (docs/load.md): the node's memory and
// CPU time from /proc, and latency percentiles.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "net/client/load.hpp"

namespace parley::net {

// The node's resident and anonymous memory in bytes (/proc/PID/status VmRSS, RssAnon);
// zeros without a pid or when the file cannot be read.
struct NodeMemory {
  std::uint64_t rss = 0;
  std::uint64_t anon = 0;
};
NodeMemory read_node_memory(int pid);

// The node's CPU time so far: utime and stime, fields 14 and 15 of /proc/PID/stat, in clock
// ticks, summed over its threads. None without a pid or when the file cannot be read.
struct CpuTicks {
  std::uint64_t user = 0;
  std::uint64_t system = 0;
};
std::optional<CpuTicks> read_node_cpu(int pid);
double ticks_to_s(std::uint64_t ticks);

// p50, p99, p99.9 and max of `micros` (sorted in place), in milliseconds.
LatencySummary summarize(std::vector<std::uint32_t>& micros);

}  // namespace parley::net
