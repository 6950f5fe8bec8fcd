#!/usr/bin/env bash
# Installs what monochat needs to build (and, with --test, to run its tests) from Debian 12's
# packages, skipping what is already installed. Safe to run again; needs root or sudo.
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config ccache git
          libboost1.81-dev librocksdb-dev libsqlite3-dev nlohmann-json3-dev libfmt-dev
          libsodium-dev libssl-dev curl ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(catch2 clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
