#!/usr/bin/env bash
# engine/ must stay pure: no I/O, clocks, threads, randomness or outside libraries.
# Fails (exit 1) and names the offending lines if any creep in.
set -euo pipefail
engine_dir="${1:?usage: lint_engine_purity.sh ENGINE_DIR}"
banned='#include *<(boost/|capnp/|kj/|lmdb\.h|sodium|thread>|random>|chrono>|fstream>|iostream>|cstdio>|stdio\.h|filesystem>|mutex>|atomic>|future>|condition_variable>|ctime>|time\.h|unistd\.h|sys/)|system_clock|steady_clock|high_resolution_clock|std::rand|\brand\(|getenv|std::random_device|fopen|std::cout|std::cerr|printf'
if hits=$(grep -rnE "$banned" "$engine_dir" --include='*.hpp' --include='*.cpp' --include='*.h'); then
  echo "engine/ must not use I/O, clocks, threads or randomness:"
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
echo "engine/ is pure: $(find "$engine_dir" -name '*.[ch]pp' | wc -l) files checked"
