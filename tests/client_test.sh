#!/usr/bin/env bash
# `parley client` against a real node: sign-up, a 1:1 message both ways (one of them
# received live by a client that stays connected), history, groups, client-side errors,
# a refused login, and interactive mode's human-readable lines.
set -euo pipefail
parley="${1:?usage: client_test.sh PARLEY}"
dir=$(mktemp -d)
node_pid=""
alice_pid=""
cleanup() {
  if [ -n "$alice_pid" ]; then kill "$alice_pid" 2>/dev/null || true; fi
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.out "$dir"/*.err; do [ -e "$f" ] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}
# Waits up to 10 s for a line matching the pattern in the file.
wait_for() { for _ in $(seq 100); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

"$parley" serve --listen 127.0.0.1:0 --port-file "$dir/port" --data "$dir/data" \
  --argon2-opslimit 1 --argon2-memlimit-kib 8192 2>"$dir/node.log" &
node_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the node did not start"
server="127.0.0.1:$(cat "$dir/port")"
client() { timeout 30 "$parley" client --server "$server" "$@"; }
script() { client --script "$@"; }

# 1. alice signs up; with no commands she just connects and leaves.
script --name alice --password 'alice password' --signup </dev/null >"$dir/alice1.out"
grep -q '^{"welcome":{"user":"1",' "$dir/alice1.out" || fail "alice got no welcome"

# 2. bob signs up, adds alice and writes to her.
printf '/add alice\n/to alice\nhello alice\n' |
  script --name bob --password 'bob password' --signup >"$dir/bob1.out"
grep -q '^{"sendAck":{"request":"4","channel":"1","seq":"1",' "$dir/bob1.out" ||
  fail "bob's message was not acked"
grep -q '"deliver".*"text":"hello alice"' "$dir/bob1.out" || fail "bob's own device got no copy"

# 3. alice stays connected, reading commands from a FIFO; she gets bob's backlog, then a
#    message bob sends while she is online, then reads the history.
mkfifo "$dir/alice.in"
script --name alice --password 'alice password' --linger-ms 300 <"$dir/alice.in" \
  >"$dir/alice2.out" 2>"$dir/alice2.err" &
alice_pid=$!
exec 3>"$dir/alice.in"
wait_for '"deliver".*"text":"hello alice"' "$dir/alice2.out" || fail "alice missed the backlog"
printf '/to alice\nare you there?\n' | script --name bob --password 'bob password' >"$dir/bob2.out"
wait_for '"deliver".*"text":"are you there?"' "$dir/alice2.out" || fail "alice got no live delivery"
# /typing in the open chat reaches alice's live connection; with no chat open it is refused
# before anything is sent.
printf '/typing
' | script --name bob --password 'bob password' >"$dir/bob_notyping.out"
grep -q '^{"clientError":{"message":"no chat is open: use /to USER or /group NAME"}}$' "$dir/bob_notyping.out" ||
  fail "/typing with no chat open gave no clientError"
printf '/to alice
/typing
' | script --name bob --password 'bob password' >"$dir/bob_typing.out"
wait_for '^{"typing":{"channel":"1","user":"2","typing":true,"ttlUs":"6000000"}}$' \
  "$dir/alice2.out" || fail "alice did not see bob typing"
# Receipts: bob is not alice's contact, so his chat is a message request for her, where her
# reads tell no one: she accepts it, marks it read up to bob's second message; bob asks and
# sees it, and turns read receipts off (and on again).
printf '/to bob\n/accept\n/read\n' >&3
wait_for '^{"requestAnswered":{"request":"[0-9]*","channel":"1","answer":"accept","clearedSeq":"0"}}$' \
  "$dir/alice2.out" || fail "alice's /accept was not answered"
wait_for '^{"ok":' "$dir/alice2.out" || fail "alice's /read was not answered ok"
printf '/to alice\n/receipts\n/readreceipts off\n/readreceipts on\n' |
  script --name bob --password 'bob password' >"$dir/bob_receipts.out"
grep -q '"receipts".*{"user":"1","deliveredSeq":"2","readSeq":"2"}' "$dir/bob_receipts.out" ||
  fail "bob's /receipts did not show alice's read position"
grep -q '^{"settings":{"request":"[0-9]*","readReceipts":false}}$' "$dir/bob_receipts.out" ||
  fail "/readreceipts off was not answered"
printf '/to bob\n/history\n/to nobody\n/frobnicate\n' >&3
exec 3>&-
wait "$alice_pid" || fail "alice's client exited non-zero"
alice_pid=""
grep -q '"historyPage".*"text":"hello alice".*"text":"are you there?"' "$dir/alice2.out" ||
  fail "alice's history page lacks the two messages in order"
grep -q '^{"clientError":{"message":"no user named .nobody."}}$' "$dir/alice2.out" ||
  fail "/to nobody gave no clientError"
grep -q '^{"clientError":{"message":"unknown command ./frobnicate.' "$dir/alice2.out" ||
  fail "an unknown command gave no clientError"

# 4. A group: the line after /create goes to the new group (it waits for groupCreated),
#    /group finds it by name, and `//` escapes a leading slash. Alice adds bob back: friends.
printf '/create climbers bob\nfirst post\n/to bob\n/group climbers\n//slash\n/add bob\n' |
  script --name alice --password 'alice password' >"$dir/alice3.out"
grep -q '^{"groupCreated":{"request":"2","channel":"2"}}$' "$dir/alice3.out" ||
  fail "no groupCreated for /create"
grep -q '^{"sendAck":{"request":"3","channel":"2",' "$dir/alice3.out" ||
  fail "the line after /create did not go to the group"
grep -q '"channelList".*"name":"climbers"' "$dir/alice3.out" || fail "/group listed no channels"
grep -q '"deliver".*"channel":"2".*"text":"/slash"' "$dir/alice3.out" ||
  fail "//slash did not reach the group as /slash"

# Edits and deletes: alice posts two more lines (seqs 4 and 5), edits #4 and deletes #5;
# bob may do neither to her messages.
printf '/group climbers\nto be edited\nto be deleted\n' |
  script --name alice --password 'alice password' >"$dir/alice_posts.out"
grep -q '^{"sendAck":{"request":"[0-9]*","channel":"2","seq":"5",' "$dir/alice_posts.out" ||
  fail "alice's two posts were not acked as seqs 4 and 5"
printf '/group climbers\n/edit #x typo\n/edit #4 edited text\n/delete #5\n' |
  script --name alice --password 'alice password' >"$dir/alice_edits.out"
grep -q '"deliver".*"kind":"edited".*"text":"edited text".*"target":"4"' "$dir/alice_edits.out" ||
  fail "/edit #4 delivered no edited entry"
grep -q '"deliver".*"kind":"deleted".*"target":"5"' "$dir/alice_edits.out" ||
  fail "/delete #5 delivered no deleted entry"
[ "$(grep -c '^{"ok":' "$dir/alice_edits.out")" = 2 ] || fail "/edit and /delete were not both ok"
printf '/group climbers\n/delete #4\n' | script --name bob --password 'bob password' >"$dir/bob_delete.out"
grep -q '^{"failure":{"request":"[0-9]*","code":"not_your_message",' "$dir/bob_delete.out" ||
  fail "bob deleting alice's message was not refused"
grep -q '^{"clientError":{"message":"usage: /edit \[#N\] TEXT (#N is' "$dir/alice_edits.out" ||
  fail "/edit #x was not refused as a usage error"
printf '/group climbers\n/delete\n' | script --name bob --password 'bob password' >"$dir/bob_delete2.out"
grep -q '^{"clientError":{"message":"no message of yours acked in this chat from here yet: name one, /delete \[#N\]"}}$' \
  "$dir/bob_delete2.out" || fail "/delete with nothing of bob's acked here gave no clientError"

# Replies, mentions and mute: bob replies to alice's edited #4 naming her; a reply to the
# deleted #5 is refused; /mute answers with the mute, and a bad duration is a usage error.
printf '/group climbers\n/reply #4 agreed @alice\n/reply #5 too late\n/mute 1h\n/mute soon\n/mute off\n' |
  script --name bob --password 'bob password' >"$dir/bob_replies.out"
grep -q '"deliver".*"text":"agreed @alice".*"replyTo":"4","mentions":\["1"\],"quote":{"sender":"1","text":"edited text","edited":true,' \
  "$dir/bob_replies.out" || fail "/reply #4 delivered no reply quoting the edited text and mentioning alice"
grep -q '^{"failure":{"request":"[0-9]*","code":"message_deleted",' "$dir/bob_replies.out" ||
  fail "/reply to the deleted #5 was not refused message_deleted"
grep -q '^{"channelMute":{"request":"[0-9]*","channel":"[0-9]*","mutedUntil":"[1-9][0-9]*","forever":false}}$' \
  "$dir/bob_replies.out" || fail "/mute 1h got no channelMute with its end"
grep -q '^{"channelMute":{"request":"[0-9]*","channel":"[0-9]*","mutedUntil":"0","forever":false}}$' \
  "$dir/bob_replies.out" || fail "/mute off got no channelMute saying unmuted"
grep -q '^{"clientError":{"message":"usage: /mute DURATION' "$dir/bob_replies.out" ||
  fail "/mute soon was not a usage error"

# Message requests: carol and dave, strangers to bob, write to him. Bob's /requests lists
# both, his backlog marks their messages [request]; he accepts carol's and then blocks her,
# and declines dave's (cleared up to #1).
printf '/to bob\nhi bob, I am carol\n' |
  script --name carol --password 'carol password' --signup >"$dir/carol.out"
printf '/to bob\nbuy followers now\n' |
  script --name dave --password 'dave password' --signup >"$dir/dave.out"
printf '/requests\n/to carol\n/accept\n/block carol\n' |
  client --name bob --password 'bob password' >"$dir/bob_requests.txt" || fail "bob's /requests failed"
grep -q '^\* 2 message requests: chat with carol, chat with dave (open one, then /accept or /decline)$' \
  "$dir/bob_requests.txt" || fail "/requests did not list carol's and dave's chats"
# The backlog may print before or after /to carol opens her chat: "carol" or "carol to you".
grep -q '^\[[0-9:]*\] #1 carol\( to you\)\? \[request\]: hi bob, I am carol$' "$dir/bob_requests.txt" ||
  fail "carol's message was not marked as a request"
grep -q '^\[[0-9:]*\] #1 dave to you \[request\]: buy followers now$' "$dir/bob_requests.txt" ||
  fail "dave's message was not marked as a request"
grep -q '^\* accepted chat with carol$' "$dir/bob_requests.txt" || fail "/accept was not answered"
grep -q '^\* blocked carol: neither of you can message the other$' "$dir/bob_requests.txt" ||
  fail "/block was not answered"
printf '/to bob\nstill there?\n' |
  script --name carol --password 'carol password' >"$dir/carol2.out"
grep -q '^{"failure":{"request":"[0-9]*","code":"blocked",' "$dir/carol2.out" ||
  fail "a blocked user's message was not refused"
printf '/to dave\n/decline\n/requests\n' | script --name bob --password 'bob password' >"$dir/bob_decline.out"
grep -q '^{"requestAnswered":{"request":"[0-9]*","channel":"[0-9]*","answer":"delete","clearedSeq":"1"}}$' \
  "$dir/bob_decline.out" || fail "/decline got no requestAnswered clearing #1"
# A new device is still delivered dave's cleared message: it shows nothing of it.
printf '/requests\n' | client --name bob --password 'bob password' >"$dir/bob_cleared.txt" ||
  fail "bob's new device failed"
grep -q '^\* 1 message request: chat with carol\|^\* no message requests$\|message request' \
  "$dir/bob_cleared.txt" || fail "bob's new device did not answer /requests"
if grep -q 'buy followers now' "$dir/bob_cleared.txt"; then
  fail "a new device showed a message of a request bob had deleted"
fi

# Every stdout line in script mode is one JSON object.
if grep -v '^{.*}$' "$dir"/*.out; then fail "a non-JSON line on stdout in script mode"; fi

# 5. A wrong password exits 2 without connecting, and says why on stderr.
status=0
script --name alice --password 'wrong password' </dev/null >"$dir/wrong.out" 2>"$dir/wrong.err" ||
  status=$?
[ "$status" = 2 ] || fail "a wrong password exited $status, not 2"
grep -q 'unauthorized' "$dir/wrong.err" || fail "no reason on stderr for the refused login"
[ ! -s "$dir/wrong.out" ] || fail "a refused login printed to stdout"

# 6. Interactive mode prints people's words with names, and ends at stdin's end. (The
#    backlog comes before /group is answered, so only /history shows the group unmarked.)
#    Alice, connected meanwhile, types in the group; bob's client names her and the group.
mkfifo "$dir/alice4.in"
script --name alice --password 'alice password' <"$dir/alice4.in" >"$dir/alice4.out" &
alice_pid=$!
exec 3>"$dir/alice4.in"
printf '/group climbers\n' >&3
wait_for '"channelList"' "$dir/alice4.out" || fail "alice's second client did not open the group"
{
  printf '/group climbers\n/history\n/who\n/receipts\n'
  wait_for '^\* alice: delivered' "$dir/bob3.txt" || true
  printf '/typing\n' >&3
  wait_for 'is typing' "$dir/bob3.txt" || true
} | client --name bob --password 'bob password' >"$dir/bob3.txt" || fail "interactive bob failed"
exec 3>&-
wait "$alice_pid" || true
alice_pid=""
grep -q '^\* alice is typing in "climbers"\.\.\.$' "$dir/bob3.txt" ||
  fail "interactive mode did not show alice typing in the group"
grep -q '^\[[0-9:]*\] \* alice created group "climbers" with you$' "$dir/bob3.txt" ||
  fail "interactive mode did not describe the group's creation"
grep -q '^\[[0-9:]*\] #[0-9]* alice: first post$' "$dir/bob3.txt" ||
  fail "interactive mode did not show alice's post"
grep -q '^\[[0-9:]*\] #[0-9]* alice: edited text (edited)$' "$dir/bob3.txt" ||
  fail "interactive mode did not show the edited text marked edited"
if grep -q 'alice deleted #5' "$dir/bob3.txt"; then
  fail "the backlog printed a delete line for #5, already shown as deleted"
fi
grep -q '^\[[0-9:]*\] #[0-9]* alice: (message deleted)$' "$dir/bob3.txt" ||
  fail "interactive mode did not show the deleted message as deleted"
grep -q '^\[[0-9:]*\] #[0-9]* you (re #4 alice: edited text): agreed @alice$' "$dir/bob3.txt" ||
  fail "interactive mode did not show bob's reply with its quote"
grep -q '^\* alice: delivered up to #[0-9]*, ' "$dir/bob3.txt" ||
  fail "/receipts did not show alice's positions in the group"
grep -q '^\* alice: \(online\|offline\), last active ' "$dir/bob3.txt" ||
  fail "/who did not show alice's presence"
# 7. Piped interactive mode shows its own last message: it waits for the delivery back.
printf '/to alice\nlast words\n' | client --name bob --password 'bob password' >"$dir/bob_last.txt" ||
  fail "interactive bob (last words) failed"
grep -q '^\[[0-9:]*\] #[0-9]* you: last words$' "$dir/bob_last.txt" ||
  fail "the client exited before showing its own last message"
echo "client test passed"
