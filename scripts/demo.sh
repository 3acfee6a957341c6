#!/usr/bin/env bash
# sanpool's main job (README "Quick start"): builds the project, starts a
# single-host agent with mutual TLS and a Unix socket, calls it through the
# CLI over both, prints the answers, and stops it with SIGTERM (clean drain).
# Later this becomes the multi-host rig demo (`sanpool rig demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build=${SANPOOL_BUILD_DIR:-build/release}
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" agent/sanpool-agent tools/sanpool >/dev/null

agent=$build/agent/sanpool-agent
cli=$build/tools/sanpool
work=$(mktemp -d /var/tmp/sanpool-demo.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "certificates (test CA, host and client certs) in $work/pki"
"$cli" make-certs "$work/pki" >/dev/null

step "starting sanpool-agent (mutual TLS on 127.0.0.1, Unix socket)"
"$agent" --config /dev/null \
  --set rpc.host=127.0.0.1 --set rpc.port=0 \
  --set rpc.ca_file="$work/pki/ca.pem" \
  --set rpc.cert_file="$work/pki/host.pem" \
  --set rpc.key_file="$work/pki/host.key" \
  --set rpc.unix_socket="$work/agent.sock" \
  --port-file "$work/port" 2>"$work/agent.log" &
pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
port=$(cat "$work/port")
echo "agent pid $pid listening on 127.0.0.1:$port and $work/agent.sock"

step "sanpool call Host.ping (Unix socket)"
"$cli" --socket "$work/agent.sock" call Host.ping

step "sanpool call Host.getCapabilities (mutual TLS)"
"$cli" --url "https://127.0.0.1:$port" --ca "$work/pki/ca.pem" \
  --cert "$work/pki/client.pem" --key "$work/pki/client.key" \
  call Host.getCapabilities

step "sanpool call Host.getStats --json"
"$cli" --socket "$work/agent.sock" --json call Host.getStats

step "an invalid call gets a JSON-RPC error (exit code 1)"
set +e
"$cli" --socket "$work/agent.sock" call No.suchMethod
echo "exit code: $?"
set -e

step "SIGTERM: drain and exit"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
echo "agent exited with $rc"
echo
echo "agent log:"
sed 's/^/  /' "$work/agent.log"
