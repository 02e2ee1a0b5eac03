#!/usr/bin/env bash
# The main job on the embedded default: build vcall, then record a call through its own
# server (camera and microphone where they exist, test sources otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
exec target/release/vcall demo "$@"
