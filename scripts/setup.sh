#!/usr/bin/env bash
# Installs what building and testing vcall needs on Debian/Ubuntu, when missing.
# Usage: scripts/setup.sh [extra Debian packages...]
set -euo pipefail

packages=(build-essential pkg-config libclang-dev libasound2-dev cmake nasm
  libvpx-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is not installed; install Rust 1.85 or newer (https://rustup.rs) and run this again" >&2
  exit 1
fi
