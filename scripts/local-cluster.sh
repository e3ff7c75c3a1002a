#!/usr/bin/env bash
# Starts, on this machine's loopback, a 3-member etcd cluster and two policygraph replicas over it,
# seeded from seed/ by whichever replica starts first. Ctrl-C stops everything.
#
#   bash scripts/local-cluster.sh            # etcd on 2379/22379/32379, replicas on 8081 and 8082
#   DATA=/some/dir bash scripts/local-cluster.sh   # keep the etcd data there (default: a temporary dir)
#   BIN=target/debug/policygraph bash scripts/local-cluster.sh
#
# Needs `etcd` on PATH (Debian: apt-get install etcd-server; scripts/install-test-deps.sh does it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "local-cluster: $*"; }

command -v etcd >/dev/null 2>&1 || { say "etcd is not on PATH (apt-get install etcd-server)" >&2; exit 1; }
BIN=${BIN:-target/release/policygraph}
if [[ ! -x $BIN ]]; then
  say "building $BIN"
  cargo build --release --locked
fi
DATA=${DATA:-$(mktemp -d)}
mkdir -p "$DATA"
say "etcd data in $DATA"

pids=()
stop() {
  say "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

cluster="m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
for m in "m1 2379 2380" "m2 22379 22380" "m3 32379 32380"; do
  read -r name client peer <<<"$m"
  etcd --name "$name" --data-dir "$DATA/$name" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-token policygraph-local --initial-cluster-state new \
    --auto-compaction-mode revision --auto-compaction-retention 100000 \
    --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    >"$DATA/$name.log" 2>&1 &
  pids+=($!)
done
say "etcd members started (logs in $DATA/m*.log)"

store="etcd://127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379"
for port in 8081 8082; do
  "$BIN" serve --store "$store" --bind "127.0.0.1:$port" --seed-dir seed >"$DATA/replica-$port.log" 2>&1 &
  pids+=($!)
done
for port in 8081 8082; do
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  say "replica on http://127.0.0.1:$port: $(curl -sS "http://127.0.0.1:$port/healthz" || echo 'not answering; see its log')"
done
say "GraphiQL: http://127.0.0.1:8081/graphiql and http://127.0.0.1:8082/graphiql; Ctrl-C stops all"
wait
