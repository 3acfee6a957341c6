#!/usr/bin/env bash
# Builds a release tree and runs the RPC benchmark (bench/rpc_bench.cc):
# Host.ping over HTTP and WebSocket with mutual TLS at 1, 16 and 64 clients.
# Writes bench/results/rpc.json and prints a table.
#
# Usage: scripts/bench.sh [rpc-bench flags...]   e.g. --duration 10
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/release
if [[ -f $dir/build.ninja ]]; then
  meson configure "$dir" --buildtype=release >/dev/null
else
  meson setup "$dir" --buildtype=release >/dev/null
fi
ninja -C "$dir" -j "$(nproc)" agent/sanpool-agent bench/rpc-bench

mkdir -p bench/results
"$dir/bench/rpc-bench" --agent "$dir/agent/sanpool-agent" \
  --json-out bench/results/rpc.json "$@" >/dev/null
echo "bench: wrote bench/results/rpc.json"
