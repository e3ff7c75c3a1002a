#!/usr/bin/env bash
# Benchmarks of the etcd backend (BENCHMARKS.md, "Over etcd"): a 3-member etcd cluster on
# loopback and one or two release-build replicas over it, on a synthetic graph of $SIZE entities
# and 5×$SIZE relations.
#
#   SIZE=100000 bash bench/etcd.sh          # writes bench/results/<date>-<commit>-etcd-<size>.md
#
# Measures: the synthetic import into etcd; etcd's database size (each member, after compaction
# and defragmentation); a replica's start from the store and from its index snapshot; durable
# mutations per second with 16 writers through one replica; how soon a commit through one
# replica is visible on the other (p50, p99 over 300 commits); the entity + 20 relations query
# with one replica and with two (wrk, every request new). Needs etcd (scripts/install-test-deps.sh)
# and wrk (installed from Debian here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE=${SIZE:-100000}
DURATION=${DURATION:-10}
say() { echo "bench/etcd: $*" >&2; }

SUDO=()
[[ $(id -u) -ne 0 ]] && SUDO=(sudo -n)
if ! command -v wrk >/dev/null; then
  "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk
fi
command -v etcd >/dev/null || { say "no etcd on PATH: bash scripts/install-test-deps.sh"; exit 1; }
cargo build --release --locked -q
bin=target/release/policygraph
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# ---- the cluster ------------------------------------------------------------------------------
cluster="m1=http://127.0.0.1:23801,m2=http://127.0.0.1:23802,m3=http://127.0.0.1:23803"
for i in 1 2 3; do
  etcd --name "m$i" --data-dir "$work/m$i" \
    --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
    --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
    --initial-cluster "$cluster" --initial-cluster-token bench --initial-cluster-state new \
    --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) >"$work/m$i.log" 2>&1 &
  pids+=($!)
done
store="etcd://127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793/bench"
until curl -sf -X POST http://127.0.0.1:23791/v3/kv/range -d '{"key":"AA=="}' >/dev/null; do sleep 0.1; done

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# ---- import and size --------------------------------------------------------------------------
t=$(now)
"$bin" gen-synthetic --store "$store" --entities "$SIZE" --relations $((SIZE * 5)) >/dev/null 2>"$work/gen.log"
import_s=$(since "$t")
say "imported $SIZE entities and $((SIZE * 5)) relations in ${import_s} s"
rev=$(curl -s -X POST http://127.0.0.1:23791/v3/kv/range -d '{"key":"AA=="}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
curl -s -X POST http://127.0.0.1:23791/v3/kv/compaction -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
db_sizes=""
for i in 1 2 3; do
  curl -s -X POST "http://127.0.0.1:2379$i/v3/maintenance/defragment" -d '{}' >/dev/null
  size=$(curl -s -X POST "http://127.0.0.1:2379$i/v3/maintenance/status" -d '{}' | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["dbSize"]))')
  db_sizes="$db_sizes $size"
done
db_mib=$(python3 -c "import sys; s=[int(x) for x in sys.argv[1:]]; print(f'{max(s)/2**20:.0f}')" $db_sizes)
say "etcd database after compaction and defragmentation: $db_mib MiB per member"

# ---- replicas ---------------------------------------------------------------------------------
start_replica() { # port data-dir extra… → pid
  local port=$1 dir=$2; shift 2
  # The rate limit off: each load generator is one client, whose budget would turn most of
  # the run into fast 429s.
  RUST_LOG=info "$bin" serve --store "$store" --data "$dir" --bind "127.0.0.1:$port" --seed-dir /nonexistent --workers 1 \
    --rate-limit-points 0 "$@" >>"$work/replica-$port.log" 2>&1 &
  echo $!
}
wait_ready() { until curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; do sleep 0.02; done; }

t=$(now); a=$(start_replica 18081 "$work/a"); wait_ready 18081; start_store_s=$(since "$t")
# A clean stop writes the replica's index snapshot (the replica is not this shell's child: poll).
kill "$a"; while kill -0 "$a" 2>/dev/null; do sleep 0.05; done
t=$(now); a=$(start_replica 18081 "$work/a"); pids+=("$a"); wait_ready 18081; start_snapshot_s=$(since "$t")
b=$(start_replica 18082 "$work/b"); pids+=("$b"); wait_ready 18082
grep -q "index loaded from its snapshot" "$work/replica-18081.log" || { tail -20 "$work/replica-18081.log"; say "the second start did not use the snapshot"; exit 1; }
say "a replica starts in ${start_store_s} s from the store, ${start_snapshot_s} s from its snapshot"
token=$("$bin" token create --name bench --role editor --store "$store" | tail -1)

# ---- writes: 16 writers through one replica ---------------------------------------------------
python3 - "$work" <<'PY'
import json, sys, urllib.request
work = sys.argv[1]
req = urllib.request.Request("http://127.0.0.1:18081/graphql", json.dumps({"query": "{ entities(first: 100) { edges { node { slug } } } }"}).encode(), {"content-type": "application/json"})
slugs = [e["node"]["slug"] for e in json.load(urllib.request.urlopen(req))["data"]["entities"]["edges"]]
with open(f"{work}/vars.lua", "w") as f:
    f.write("slugs = {" + ",".join(json.dumps(s) for s in slugs) + "}\n")
PY
cat >"$work/mutation.lua" <<LUA
dofile("$work/vars.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
counter = 0
request = function()
  counter = counter + 1
  local i = (counter % #slugs) + 1
  return wrk.format(nil, nil, nil, '{"query":"mutation(\$id:ID!,\$s:String!){ updateEntity(input:{id:\$id, summary:\$s}){ entity{ version } } }","variables":{"id":"' .. slugs[i] .. '","s":"Corrected by bench request ' .. counter .. ' ' .. math.random(1e9) .. '."}}')
end
LUA
# One request of each kind must answer without errors: a fast error would flatter the figures.
check() { # url body
  local answer; answer=$(curl -s "$1" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "$2")
  if [[ $answer == *'"errors"'* || $answer != *'"data"'* ]]; then say "a benchmark request fails: $answer"; exit 1; fi
}
slug=$(python3 -c 'import re,sys; print(re.search(r"\"([^\"]+)\"", open(sys.argv[1]).read()).group(1))' "$work/vars.lua")
check http://127.0.0.1:18081/graphql "{\"query\":\"query(\$s:String!){ entity(slug:\$s){ id name relations(first:20){ edges{ node{ kind to{ id name } from{ id name } } } } } }\",\"variables\":{\"s\":\"$slug\",\"n\":1}}"
check http://127.0.0.1:18082/graphql "{\"query\":\"mutation(\$id:ID!){ updateEntity(input:{id:\$id, summary:\\\"Checked.\\\"}){ entity{ version } } }\",\"variables\":{\"id\":\"$slug\"}}"
wrk -t2 -c16 -d"${DURATION}s" --latency -s "$work/mutation.lua" http://127.0.0.1:18081/graphql >"$work/mut.txt"
grep -q "Non-2xx" "$work/mut.txt" && { cat "$work/mut.txt"; say "mutations failed"; exit 1; }
mut_rps=$(awk '/Requests\/sec/{print $2}' "$work/mut.txt"); mut_p50=$(awk '$1=="50%"{print $2}' "$work/mut.txt"); mut_p99=$(awk '$1=="99%"{print $2}' "$work/mut.txt")
say "durable mutations, 16 writers through one replica: $mut_rps/s (p50 $mut_p50, p99 $mut_p99)"

# ---- convergence: commit through A, poll B ----------------------------------------------------
read -r conv_p50 conv_p99 conv_max <<<"$(python3 - "$token" <<'PY'
import http.client, json, sys, time
token = sys.argv[1]
a = http.client.HTTPConnection("127.0.0.1", 18081); b = http.client.HTTPConnection("127.0.0.1", 18082)
def post(c, query, variables, auth=None):
    h = {"content-type": "application/json"}
    if auth: h["authorization"] = "Bearer " + auth
    c.request("POST", "/graphql", json.dumps({"query": query, "variables": variables}), h)
    return json.loads(c.getresponse().read())
took = []
for i in range(300):
    slug = f"conv-{i}-{int(time.time()*1000)}"
    answer = post(a, 'mutation($s:String!){ createEntity(input:{kind: EVENT, slug:$s, name:$s}){ entity{ id } } }', {"s": slug}, token)
    committed = time.perf_counter()
    assert "errors" not in answer, answer
    while True:
        d = post(b, 'query($ids:[ID!]!){ nodes(ids:$ids){ id } }', {"ids": [f"Event:{slug}"]})
        if d["data"]["nodes"][0]:
            took.append((time.perf_counter() - committed) * 1000); break
took.sort()
print(f"{took[len(took)//2]:.1f} {took[int(len(took)*0.99)]:.1f} {took[-1]:.1f}")
PY
)"
say "visible on the other replica after: p50 $conv_p50 ms, p99 $conv_p99 ms, max $conv_max ms (from the writer's answer)"

# ---- reads: one replica, then two -------------------------------------------------------------
cat >"$work/read.lua" <<LUA
dofile("$work/vars.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local i = (counter % #slugs) + 1
  return wrk.format(nil, nil, nil, '{"query":"query(\$s:String!){ entity(slug:\$s){ id name relations(first:20){ edges{ node{ kind to{ id name } from{ id name } } } } } }","variables":{"s":"' .. slugs[i] .. '","n":' .. counter .. math.random(1e6) .. '}}')
end
LUA
wrk -t1 -c32 -d"${DURATION}s" -s "$work/read.lua" http://127.0.0.1:18081/graphql >"$work/r1.txt"
one=$(awk '/Requests\/sec/{print $2}' "$work/r1.txt")
wrk -t1 -c32 -d"${DURATION}s" -s "$work/read.lua" http://127.0.0.1:18081/graphql >"$work/r2a.txt" &
w=$!
wrk -t1 -c32 -d"${DURATION}s" -s "$work/read.lua" http://127.0.0.1:18082/graphql >"$work/r2b.txt"
wait $w
for f in r1 r2a r2b; do
  grep -q "Non-2xx" "$work/$f.txt" && { cat "$work/$f.txt"; say "reads failed"; exit 1; }
done
two=$(python3 -c "import sys; print(f'{float(sys.argv[1]) + float(sys.argv[2]):.0f}')" "$(awk '/Requests\/sec/{print $2}' "$work/r2a.txt")" "$(awk '/Requests\/sec/{print $2}' "$work/r2b.txt")")
say "entity + 20 relations (every request new): one replica $one/s, two replicas $two/s together"

mkdir -p bench/results
out="bench/results/$(date +%Y-%m-%d)-$(git rev-parse --short HEAD)-etcd-$SIZE.md"
cat >"$out" <<EOF
# bench/etcd.sh, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)

Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB.
etcd $(etcd --version | head -1 | awk '{print $3}'), 3 members on loopback, one disk; replicas: release build, one HTTP worker,
not pinned (the cluster, both replicas and wrk share the cores). Graph: $SIZE entities, $((SIZE * 5)) relations (synthetic).

| what | figure |
|---|---|
| synthetic import into etcd | ${import_s} s |
| etcd database per member, after compaction and defragmentation | ${db_mib} MiB |
| replica start, from the store | ${start_store_s} s |
| replica start, from its index snapshot | ${start_snapshot_s} s |
| durable mutations, 16 writers through one replica | ${mut_rps}/s (p50 ${mut_p50}, p99 ${mut_p99}) |
| commit on one replica visible on the other, 300 commits | p50 ${conv_p50} ms, p99 ${conv_p99} ms, max ${conv_max} ms |
| entity + 20 relations, every request new, one replica | ${one}/s |
| the same, two replicas loaded at once | ${two}/s together |
EOF
cat "$out"
