// What the simulator tests ask of a run: its violations and expectation misses as text for a
// failure message, and the records of one kind in its trace.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "sim/world.hpp"

namespace parley::sim::testing {

// Every violation ("invariant N: ...") and expectation miss, one per line.
inline std::string violations(const RunResult& r) {
  std::string text;
  for (const auto& v : r.check.violations)
    text += "invariant " + std::to_string(v.invariant) + ": " + v.message + "\n";
  for (const auto& f : r.expectation_failures)
    text += f + "\n";
  return text;
}

// The trace's records of `kind`, in order.
inline std::vector<const Record*> records(const RunResult& r, RecordKind kind) {
  std::vector<const Record*> found;
  for (const Record& record : r.history) {
    if (record.kind == kind) found.push_back(&record);
  }
  return found;
}

// The [world] and [social] of the small scenarios the feature tests run: four users with two
// devices each, all friends, in one group "g" that user 1 made, for `duration_s` seconds
// and 10 s of settling. A test appends its [traffic] and faults.
inline std::string four_friends_in_a_group(int duration_s) {
  return "[world]\nusers = 4\ndevices_per_user = 2\nduration_s = " + std::to_string(duration_s) +
         "\nsettle_s = 10\n[social]\ncontacts = \"all\"\n[[social.group]]\nname = \"g\"\n"
         "creator = 1\nmembers = [2, 3, 4]\n";
}

// How many records of `kind` the trace holds, only those whose detail is `detail` if given.
inline std::size_t count(const RunResult& r, RecordKind kind, const std::string& detail = "") {
  return static_cast<std::size_t>(std::count_if(
      r.history.begin(), r.history.end(),
      [&](const Record& x) { return x.kind == kind && (detail.empty() || x.detail == detail); }));
}

}  // namespace parley::sim::testing
