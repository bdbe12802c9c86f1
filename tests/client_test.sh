#!/usr/bin/env bash
# `parley client --script` against a real node: sign-up, a 1:1 message both ways (one of
# them received live by a client that stays connected), history, and client-side errors.
set -euo pipefail
parley="${1:?usage: client_test.sh PARLEY}"
dir=$(mktemp -d)
node_pid=""
alice_pid=""
cleanup() {
  [ -n "$alice_pid" ] && kill "$alice_pid" 2>/dev/null || true
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.out; do echo "--- $f"; cat "$f"; done; exit 1; }

"$parley" serve --listen 127.0.0.1:0 --port-file "$dir/port" --data "$dir/data" \
  --argon2-opslimit 1 --argon2-memlimit-kib 8192 2>"$dir/node.log" &
node_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the node did not start"
server="127.0.0.1:$(cat "$dir/port")"
client() { timeout 30 "$parley" client --server "$server" --script "$@"; }

# 1. alice signs up; with no commands she just connects and leaves.
client --name alice --password 'alice password' --signup </dev/null >"$dir/alice1.out"
grep -q '"welcome"' "$dir/alice1.out" || fail "alice got no welcome"

# 2. bob signs up, adds alice and writes to her.
printf '/add alice\n/to alice\nhello alice\n' |
  client --name bob --password 'bob password' --signup >"$dir/bob1.out"
grep -q '"sendAck"' "$dir/bob1.out" || fail "bob's message was not acked"
grep -q '"deliver".*"text":"hello alice"' "$dir/bob1.out" || fail "bob's own device got no copy"

# 3. alice stays connected, reading commands from a FIFO; she gets bob's backlog, then a
#    message bob sends while she is online, then reads the history.
mkfifo "$dir/alice.in"
client --name alice --password 'alice password' --linger-ms 300 <"$dir/alice.in" \
  >"$dir/alice2.out" &
alice_pid=$!
exec 3>"$dir/alice.in"
for _ in $(seq 100); do grep -q '"welcome"' "$dir/alice2.out" 2>/dev/null && break; sleep 0.1; done
grep -q '"deliver".*"text":"hello alice"' "$dir/alice2.out" || fail "alice missed the backlog"
printf '/to alice\nare you there?\n' | client --name bob --password 'bob password' >"$dir/bob2.out"
for _ in $(seq 100); do grep -q '"text":"are you there?"' "$dir/alice2.out" && break; sleep 0.1; done
grep -q '"deliver".*"text":"are you there?"' "$dir/alice2.out" || fail "alice got no live delivery"
printf '/to bob\n/history\n/to nobody\n/frobnicate\n' >&3
exec 3>&-
wait "$alice_pid" || fail "alice's client exited non-zero"
alice_pid=""
grep -q '"historyPage".*"text":"hello alice".*"text":"are you there?"' "$dir/alice2.out" ||
  fail "alice's history page lacks the two messages in order"
grep -q '"clientError".*nobody' "$dir/alice2.out" || fail "/to nobody gave no clientError"
grep -q '"clientError".*unknown command' "$dir/alice2.out" || fail "an unknown command gave no clientError"
# Every stdout line is one JSON object.
if grep -v '^{.*}$' "$dir"/*.out; then fail "a non-JSON line on stdout in script mode"; fi

# 4. A wrong password exits non-zero without connecting.
if client --name alice --password 'wrong password' </dev/null >"$dir/wrong.out" 2>/dev/null; then
  fail "a wrong password was accepted"
fi
echo "client test passed"
