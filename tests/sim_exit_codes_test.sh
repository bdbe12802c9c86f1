#!/usr/bin/env bash
# `parley sim --seeds A..B` reports each failing seed with its class and replay command, goes
# on with the next seed, and exits with the class's code (docs/scenarios.md, exit codes).
# Crash class: a real store error (each node's LMDB map capped at 1 MiB, then filled).
# Expectation class: an [expect] target no run can meet.
set -uo pipefail
parley="${1:?usage: sim_exit_codes_test.sh PARLEY}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$dir/out"; exit 1; }

cat >"$dir/fills_store.toml" <<'TOML'
[world]
duration_s = 5
settle_s = 1
users = 2
[traffic]
messages_per_user_per_minute = 0
text_min = 20000
text_max = 20000
burst_at_s = 3
burst_messages = 60
TOML
cat >"$dir/impossible.toml" <<'TOML'
[world]
duration_s = 5
settle_s = 2
users = 2
[expect]
delivered_min = 1000000000
TOML

# Crash: every seed dies of a full store; each is reported, and the sweep goes on.
"$parley" sim "$dir/fills_store.toml" --seeds 1..2 --store lmdb --lmdb-max-mb 1 >"$dir/out" 2>&1
code=$?
[ "$code" = 5 ] || fail "a store error should exit 5, got $code"
for seed in 1 2; do
  grep -q "^CRASHED seed $seed: store error: " "$dir/out" || fail "no crash line for seed $seed"
  grep -q "replay: parley sim $dir/fills_store.toml --seed $seed --store lmdb --lmdb-max-mb 1$" \
    "$dir/out" || fail "no replay line for seed $seed"
done
grep -q "0 passed, 2 failed (crashed 2)" "$dir/out" || fail "no tally of crashes"

# The same scenario with room to spare passes: the cap, not the scenario, made it crash.
"$parley" sim "$dir/fills_store.toml" --seed 1 --store lmdb --quiet >"$dir/out" 2>&1 ||
  fail "the uncapped run should pass"

# Expectation: exit 2, a line and a replay command per seed.
"$parley" sim "$dir/impossible.toml" --seeds 3..4 --quiet >"$dir/out" 2>&1
code=$?
[ "$code" = 2 ] || fail "a missed expectation should exit 2, got $code"
for seed in 3 4; do
  grep -q "^FAILED seed $seed: expectations not met" "$dir/out" || fail "no line for seed $seed"
  grep -q "replay: parley sim $dir/impossible.toml --seed $seed$" "$dir/out" ||
    fail "no replay line for seed $seed"
done
grep -q "0 passed, 2 failed (expectation 2)" "$dir/out" || fail "no tally of expectations"

# Usage: the cap needs the LMDB store.
"$parley" sim "$dir/impossible.toml" --lmdb-max-mb 1 >"$dir/out" 2>&1
code=$?
[ "$code" = 4 ] || fail "--lmdb-max-mb without --store lmdb should exit 4, got $code"
echo "ok"
