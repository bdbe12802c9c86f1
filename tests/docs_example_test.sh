#!/usr/bin/env bash
# The complete example in docs/scenarios.md must load and pass in the simulator.
set -euo pipefail
parley="${1:?usage: docs_example_test.sh PARLEY DOC}"
doc="${2:?usage: docs_example_test.sh PARLEY DOC}"
example=$(mktemp --suffix=.toml)
trap 'rm -f "$example"' EXIT
awk '/^## A complete example/{f=1;next} f&&/^```toml/{g=1;next} g&&/^```/{exit} g{print}' \
  "$doc" >"$example"
[ -s "$example" ] || { echo "no example found in $doc"; exit 1; }
"$parley" sim "$example" --seeds 1..5 --quiet
