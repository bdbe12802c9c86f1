#!/usr/bin/env bash
# `parley demo` (what `make run` shows today) must tell the whole story it promises.
set -euo pipefail
parley="${1:?usage: demo_test.sh PATH_TO_PARLEY}"
output=$("$parley" demo --messages 2)
expect() {
  if ! grep -qE "$1" <<<"$output"; then
    echo "demo output lacks: $1"
    echo "$output"
    exit 1
  fi
}
expect 'conn 2 <- deliver \[1 1/1 text from=1 "hi bob #1"\]'   # the sender's other device
expect 'send_ack req=[0-9]+ channel=1 seq=1 duplicate'          # idempotent resend
expect 'error req=[0-9]+ code=invalid_utf8'
expect 'history req=[0-9]+ channel=2 .*who brings snacks'
expect 'conn 1 <- receipt channel=1 user=2 delivered=4 read=4'       # bob read alice's messages
expect 'conn 3 <- unread req=[0-9]+ total=0'
expect 'conn 1 <- presence user=2 offline'
expect 'push 1 user=2 device=3 apns channel=1 seq=[0-9]+ unread=1/1 "dinner at 8\?"'
echo "demo ok"
