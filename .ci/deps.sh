#!/usr/bin/env bash
# Installs the build dependencies with apt-get when they are missing (Debian 12).
set -euo pipefail
pkgs=(cmake g++ make libgtest-dev)
[ "${1:-}" = "--ci" ] && pkgs+=(clang-format g++-aarch64-linux-gnu qemu-user)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
