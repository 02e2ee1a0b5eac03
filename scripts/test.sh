#!/usr/bin/env bash
# Installs what the tests need (the build's packages, ffmpeg to decode recordings
# independently, Janus to test against a real media server, Chromium, aiortc and ffmpeg 9
# as WHIP/WHEP peers on other stacks, coturn as a TURN relay, cargo-deb to build the Debian
# package), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ffmpeg iproute2 iptables janus python3-venv chromium openssl coturn
scripts/test-peers.sh
# cargo-deb, for the test that builds and installs the Debian package.
command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb --version 3.8.0
cargo test --locked "$@"
