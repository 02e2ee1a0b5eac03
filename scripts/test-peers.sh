#!/usr/bin/env bash
# Installs the independent WebRTC implementations the WHIP/WHEP interop tests talk to, from
# PyPI, into target/test-peers/venv: aiortc (WHIP and WHEP endpoints on another stack),
# imageio-ffmpeg (an ffmpeg 9 build with the WHIP muxer; Debian's ffmpeg 5.1 has none),
# LiveKit's official Python SDK (its FFI library carries Google's libwebrtc), the Prometheus
# project's Python client (its text-format parser reads vcall serve's /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-peers/venv
want="aiortc==1.16.0 aiohttp==3.14.5 imageio-ffmpeg==0.8.1 livekit==1.2.1 prometheus-client==0.26.0"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  echo "test-peers: installing $want" >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" > "$venv/.installed"
fi
# LiveKit's browser SDK, which tests/peers/livekit.html loads in Chromium.
npm_want="livekit-client@2.23.0"
npm_dir=target/test-peers
if [ "$(cat "$npm_dir/.npm-installed" 2>/dev/null)" != "$npm_want" ]; then
  echo "test-peers: installing $npm_want" >&2
  command -v npm >/dev/null || scripts/setup.sh npm
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund --no-save --prefix . "$npm_want" >&2)
  echo "$npm_want" > "$npm_dir/.npm-installed"
fi
