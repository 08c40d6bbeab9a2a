#!/usr/bin/env bash
# Installs the Debian packages kpid builds and tests against, when missing.
# Runs apt-get update first only if something has to be installed.
set -euo pipefail

PACKAGES=(libsqlite3-dev zlib1g-dev libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler libsnappy-dev libzstd-dev pkg-config prometheus curl openssl chromium python3 python3-yaml faketime strace prometheus-alertmanager)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
