#!/usr/bin/env bash
# Search against a real node on loopback (docs/search.md): `parley client`'s /search finds
# what the asker may read, with the matched words marked; a stranger finds nothing; a
# message deleted for everyone is never found; and after the node is killed (SIGKILL: its
# index left "open") it rebuilds the index from the store at start and still answers.
set -euo pipefail
parley="${1:?usage: search_test.sh PARLEY}"
dir=$(mktemp -d)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.out "$dir"/*.log; do [ -e "$f" ] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}
start_node() {
  rm -f "$dir/port"
  "$parley" serve --listen 127.0.0.1:0 --port-file "$dir/port" --data "$dir/data" \
    --argon2-opslimit 1 --argon2-memlimit-kib 8192 2>>"$dir/node.log" &
  node_pid=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
  [ -s "$dir/port" ] || fail "the node did not start"
  server="127.0.0.1:$(cat "$dir/port")"
}
script() { timeout 30 "$parley" client --server "$server" --script --linger-ms 300 "$@"; }
search_as() {  # search_as NAME WORDS > file
  printf '/search %s\n' "$2" | script --name "$1" --password "$1 password"
}

start_node
script --name alice --password 'alice password' --signup </dev/null >/dev/null
script --name carol --password 'carol password' --signup </dev/null >/dev/null
printf '/add alice\n/to alice\npicnic at noon <b>bring</b> a hat\nsecret code 42\n' |
  script --name bob --password 'bob password' --signup >"$dir/bob.out"
grep -q '"sendAck":{"request":"[0-9]*","channel":"1","seq":"2",' "$dir/bob.out" ||
  fail "bob's messages were not acked"

# 1. alice finds bob's message by a prefix; the matched word is a part marked match.
search_as alice "picn" >"$dir/alice1.out"
grep -q '"searchResults":{"request":"2","hits":\[{"channel":"1","seq":"1","sender":"3",' \
  "$dir/alice1.out" || fail "alice did not find 'picn'"
grep -q '{"text":"picnic","match":true}' "$dir/alice1.out" || fail "the match is not marked"
grep -q '<b>bring</b>' "$dir/alice1.out" || fail "the snippet does not carry the text as is"

# 2. carol, in no chat with bob, finds nothing.
search_as carol "picnic" >"$dir/carol.out"
grep -q '"searchResults":{"request":"2","hits":\[\],"more":false}' "$dir/carol.out" ||
  fail "carol found a message she may not read"

# 3. bob deletes "secret code 42" for everyone: nobody finds it.
search_as alice "secret" >"$dir/alice2.out"
grep -q '"seq":"2"' "$dir/alice2.out" || fail "alice did not find 'secret' before the delete"
printf '/to alice\n/delete #2\n' | script --name bob --password 'bob password' >"$dir/bob2.out"
search_as alice "secret" >"$dir/alice3.out"
grep -q '"hits":\[\]' "$dir/alice3.out" || fail "a deleted message was found"

# 4. The node is killed: its index is left "open", and the next start rebuilds it.
kill -KILL "$node_pid"
wait "$node_pid" 2>/dev/null || true
start_node
grep -q "search: index .* is 'open'.*rebuilding it from the store" "$dir/node.log" ||
  fail "the node did not rebuild an index it had not closed"
grep -q 'search: indexed 1 messages from the store' "$dir/node.log" ||
  fail "the rebuild did not index exactly the one message left"
search_as alice "noon" >"$dir/alice4.out"
grep -q '"channel":"1","seq":"1"' "$dir/alice4.out" || fail "nothing found after the rebuild"
search_as alice "secret" >"$dir/alice5.out"
grep -q '"hits":\[\]' "$dir/alice5.out" || fail "the rebuild brought deleted text back"

# 5. A clean stop closes the index: the next start keeps it (no rebuild).
kill -TERM "$node_pid"
wait "$node_pid" 2>/dev/null || true
: >"$dir/node.log"
start_node
if grep -q 'rebuilding' "$dir/node.log"; then fail "a cleanly closed index was rebuilt"; fi
search_as alice "hat" >"$dir/alice6.out"
grep -q '"seq":"1"' "$dir/alice6.out" || fail "the kept index lost the message"
echo "search test passed"
