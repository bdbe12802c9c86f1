#!/usr/bin/env bash
# A tiny bounded `parley load` against a node of its own: 50 connections for 3 s of 1:1
# traffic, then 20 connections in groups of 5. Every sent message must be acked and
# delivered to every recipient exactly once, with no error.
set -euo pipefail
parley="${1:?usage: load_test.sh PARLEY}"

check() {
  local label=$1 summary=$2
  echo "$label: $summary"
  for field in '"errors":0' '"redelivered":0' '"complete":true'; do
    grep -q "$field" <<<"$summary" || { echo "FAIL ($label): expected $field"; exit 1; }
  done
  local sent acked expected delivered connected
  sent=$(grep -o '"sent":[0-9]*' <<<"$summary" | cut -d: -f2)
  acked=$(grep -o '"acked":[0-9]*' <<<"$summary" | cut -d: -f2)
  expected=$(grep -o '"expected_deliveries":[0-9]*' <<<"$summary" | cut -d: -f2)
  delivered=$(grep -o '"delivered":[0-9]*' <<<"$summary" | cut -d: -f2)
  connected=$(grep -o '"connected":[0-9]*' <<<"$summary" | cut -d: -f2)
  [ "$sent" -gt 0 ] || { echo "FAIL ($label): nothing was sent"; exit 1; }
  [ "$acked" -eq "$sent" ] || { echo "FAIL ($label): $acked of $sent acked"; exit 1; }
  [ "$delivered" -eq "$expected" ] || {
    echo "FAIL ($label): $delivered of $expected delivered"; exit 1; }
  [ "$connected" -eq "$3" ] || { echo "FAIL ($label): $connected of $3 connected"; exit 1; }
  [ "$expected" -eq $((sent * $4)) ] || {
    echo "FAIL ($label): $expected expected deliveries for $sent sends x $4 recipients"; exit 1; }
}

summary=$(timeout 120 "$parley" load --spawn-node --connections 50 --duration 3 --rate 200 --quiet)
check "1:1" "$summary" 50 1
summary=$(timeout 120 "$parley" load --spawn-node --connections 20 --group-size 5 --duration 2 \
  --rate 50 --encoding json --quiet)
check "groups" "$summary" 20 4

# Bounds: a non-loopback target is refused before anything is sent.
if "$parley" load --server 192.0.2.1:8080 --connections 10 --duration 1 2>/dev/null; then
  echo "FAIL: a non-loopback server was accepted"; exit 1
fi
echo "load test passed"
