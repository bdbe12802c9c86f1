#!/usr/bin/env bash
# engine/ must stay pure: no I/O, clocks, threads, randomness or outside libraries.
# Fails (exit 1) and names the offending lines if any creep in.
set -euo pipefail
# With `sim` as the second argument it checks sim/ instead: the simulator may use Boost.JSON
# for its trace, but no clock, thread or randomness but its own seeded generator.
engine_dir="${1:?usage: lint_engine_purity.sh DIR [engine|sim]}"
mode="${2:-engine}"
banned='#include *<(boost/|capnp/|kj/|lmdb\.h|sodium|thread>|random>|chrono>|fstream>|iostream>|cstdio>|stdio\.h|filesystem>|mutex>|atomic>|future>|condition_variable>|ctime>|time\.h|unistd\.h|sys/)|system_clock|steady_clock|high_resolution_clock|std::rand|\brand\(|getenv|std::random_device|fopen|std::cout|std::cerr|printf'
if [ "$mode" = sim ]; then
  banned='#include *<(thread>|random>|chrono>|mutex>|atomic>|future>|ctime>|time\.h|unistd\.h)|system_clock|steady_clock|high_resolution_clock|std::rand|\brand\(|getenv|std::random_device|unordered_'
fi
if hits=$(grep -rnE "$banned" "$engine_dir" --include='*.hpp' --include='*.cpp' --include='*.h'); then
  echo "$engine_dir must not use clocks, threads, unseeded randomness or hash-ordered containers ($mode rules):"
  echo "$hits"
  exit 1
fi
# The check itself must work: a planted violation must be caught.
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
echo '#include <thread>' >"$probe"
if ! grep -qE "$banned" "$probe"; then
  echo "lint pattern is broken: it misses a planted #include <thread>"
  exit 1
fi
echo "$engine_dir keeps the $mode rules: $(find "$engine_dir" -name '*.[ch]pp' | wc -l) files checked"
