#!/usr/bin/env bash
# Every metric net/node/metrics.cpp exports has a row in docs/operations.md's metrics table.
set -euo pipefail
root="${1:?usage: lint_metrics_docs.sh REPO_ROOT}"
missing=0
for metric in $(grep -o '\bparley_[a-z_]*' "$root/net/node/metrics.cpp" | sort -u); do
  if ! grep -q "^| \`$metric[\`{]" "$root/docs/operations.md"; then
    echo "docs/operations.md: metric $metric has no row in the metrics table"
    missing=1
  fi
done
exit "$missing"
