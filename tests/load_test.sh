#!/usr/bin/env bash
# A tiny bounded `parley load` against a node of its own: 50 connections for 3 s of 1:1
# traffic, then 20 connections in groups of 5. Every sent message must be acked and
# delivered to every recipient exactly once, with no error. The node's pid is known
# (--spawn-node), so the summary must carry its CPU time per message (node_cpu), positive.
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
  local cpu value
  cpu=$(grep -o '"node_cpu":{[^}]*}' <<<"$summary") || {
    echo "FAIL ($label): no node_cpu object"; exit 1; }
  # /proc counts CPU in clock ticks (10 ms): on a tiny run one of user or kernel time may
  # read 0, so those must be present and not negative; their sum must be positive.
  for field in window_s user_s system_s us_per_delivered user_us_per_delivered \
    system_us_per_delivered us_per_sent; do
    value=$(grep -o "\"$field\":[-0-9.eE+]*" <<<"$cpu" | cut -d: -f2)
    case $field in
      window_s | us_per_delivered | us_per_sent) minimum_test='v + 0 > 0' ;;
      *) minimum_test='v + 0 >= 0' ;;
    esac
    awk -v v="$value" "BEGIN { exit !(v != \"\" && $minimum_test) }" || {
      echo "FAIL ($label): node_cpu.$field is '$value', out of range"; exit 1; }
  done
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
