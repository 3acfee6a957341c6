#!/usr/bin/env bash
# Installs every Debian 12 package sanpool needs to build, test and run its rig.
# Idempotent: packages already present are left alone; safe to run many times.
set -euo pipefail

packages=(
  # build
  meson ninja-build g++ pkg-config clang-14
  libboost1.81-dev libboost-json1.81-dev libssl-dev catch2
  # tests and tools
  python3 python3-pytest openssl util-linux e2fsprogs
  qemu-utils
  # block storage, leases, device-mapper layers
  lvm2 sanlock libsanlock-dev libfuse3-dev fuse3 libdevmapper-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
