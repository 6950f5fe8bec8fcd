#!/usr/bin/env bash
# Installs what monochat needs from Debian 12's packages, skipping what is already installed.
# Safe to run again; needs root or sudo.
#   deps.sh            to build
#   deps.sh --test     to build and run every test
#   deps.sh --runtime  only the shared libraries the built binary loads (the Docker image)
set -euo pipefail

case "${1:-}" in
    --runtime)
        packages=(librocksdb7.8 libsqlite3-0 libfmt9 libsodium23 libssl3 libmimalloc2.0 libmagic1 libvips42
                  curl ca-certificates) ;;
    --test)
        packages=(g++ cmake ninja-build pkg-config ccache git
                  libboost1.81-dev librocksdb-dev libsqlite3-dev nlohmann-json3-dev libfmt-dev
                  libsodium-dev libssl-dev libmimalloc-dev libmagic-dev libvips-dev curl ca-certificates
                  clang libclang-rt-14-dev
                  catch2 chromium fonts-noto-color-emoji) ;;
    *)
        packages=(g++ cmake ninja-build pkg-config ccache git
                  libboost1.81-dev librocksdb-dev libsqlite3-dev nlohmann-json3-dev libfmt-dev
                  libsodium-dev libssl-dev libmimalloc-dev libmagic-dev libvips-dev curl ca-certificates) ;;
esac

# The browser tests of the web client run playwright-core on node >= 20 and npm, which this
# machine kind ships; Debian's nodejs is only a fallback where they are missing.
if [[ "${1:-}" == --test ]] && ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
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
