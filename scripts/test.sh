#!/usr/bin/env bash
# Installs what the tests need (the build's packages, ffmpeg to decode recordings
# independently, Janus to test against a real media server, Chromium, aiortc and ffmpeg 9
# as WHIP/WHEP peers on other stacks, coturn as a TURN relay), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ffmpeg iproute2 iptables janus python3-venv chromium openssl coturn
scripts/test-peers.sh
cargo test --locked "$@"
