#!/usr/bin/env bash
# Installs what the tests need (the build's packages, and ffmpeg to decode recordings
# independently), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ffmpeg iproute2 iptables
cargo test --locked "$@"
