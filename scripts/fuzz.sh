#!/usr/bin/env bash
# The property tests over every parser of outside bytes, at depth: CASES cases each
# (default 100000; the test command runs 256). Usage: scripts/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-100000}"
echo "fuzz: $PROPTEST_CASES cases per property" >&2
time cargo test --release --locked --lib prop_ -- --test-threads 2
