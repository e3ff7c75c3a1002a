#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md: in-process benchmarks (criterion), cold start, peak
# memory and size on disk, and HTTP throughput and latency beside a bare actix-web baseline.
#
#   bash bench/http.sh                      # sizes 10000 and 100000 (about 15 minutes)
#   SIZES="10000 100000 1000000" bash bench/http.sh
#   SKIP_CRITERION=1 bash bench/http.sh     # HTTP, cold start and memory only
#   CRITERION_SIZES="10000" …               # in-process sizes, when they should differ from SIZES
#   HTTP_SIZE=100000 …                      # the store the HTTP figures use (default: the largest)
#   SKIP_POSTGRAPHILE=1 …                   # without PostGraphile over Postgres beside it
#
# The server is pinned to core 0 and the load generator (wrk, installed from Debian if missing)
# to core 1. PostGraphile 4 (npm, the versions of bench/postgraphile/package-lock.json) runs over
# a throwaway Postgres cluster (Debian's, installed if missing) loaded with the same graph, both
# pinned to core 0 too. Results go to bench/results/<date>-<commit>.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZES=${SIZES:-"10000 100000"}
HTTP_SIZE=${HTTP_SIZE:-$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
RUNS=${RUNS:-3}
work=${BENCH_DIR:-/tmp/policygraph-bench}
mkdir -p "$work" bench/results
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
out=bench/results/$(date -u +%Y-%m-%d)-$commit.md

SUDO=(); [[ $(id -u) -ne 0 ]] && SUDO=(sudo -n)
apt_install() { "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; }
command -v wrk >/dev/null || apt_install wrk
if [[ -z ${SKIP_POSTGRAPHILE:-} ]]; then
  # Debian keeps Postgres's server programs out of PATH, under its major version.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_install postgresql
  command -v npm >/dev/null || apt_install nodejs npm
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  # Reinstalled only when the lock file changed since the last `npm ci`.
  if ! cmp -s bench/postgraphile/package-lock.json bench/postgraphile/node_modules/.ci-lock.json; then
    (cd bench/postgraphile && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.ci-lock.json)
  fi
fi
cargo build --release --locked --bin policygraph --example bare_json --example stock_graphql
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/policygraph
bare=$target/release/examples/bare_json
stock=$target/release/examples/stock_graphql

{
  echo "# Benchmark run $(date -u +%Y-%m-%dT%H:%MZ), commit $commit"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr)."
  echo "Cold start on all cores; for HTTP, the server on core 0 and wrk on core 1 (-t1 -c$CONNS -d${DURATION}s); medians of $RUNS runs."
  echo
} >"$out"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---- data, cold start, memory -------------------------------------------------------------
# Two kinds of start: from the store (the first start, or one after a crash: sled's scan and
# every record decoded) and from the index snapshot a clean stop writes.
echo "| entities | relations | generate (s) | store on disk | start from the store (s) | peak RSS (MiB) | snapshot on disk | snapshot written at stop (s) | start from the snapshot (s) | peak RSS (MiB) |" >>"$out"
echo "|---|---|---|---|---|---|---|---|---|---|" >>"$out"
# Starts the server on $1 with the remaining args, waits for /healthz; sets $pid, $started, $peak.
start_timed() {
  local dir=$1; shift
  local t0; t0=$(date +%s.%N)
  # Not pinned: a start reads on two threads while a third builds the index.
  "$bin" serve --data "$dir" --bind 127.0.0.1:18990 --seed-dir /nonexistent --workers 1 "$@" >"$work/start.log" 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:18990/healthz >/dev/null; do sleep 0.01; done
  started=$(echo "$(date +%s.%N) - $t0" | bc)
  peak=$(awk '/VmHWM/{print int($2/1024)}' /proc/$pid/status)
}
for n in $SIZES; do
  dir=$work/store-$n
  gen=-
  if [[ ! -d $dir ]]; then
    t0=$(date +%s.%N)
    "$bin" gen-synthetic --data "$dir" --entities "$n" --relations $((n * 5)) --seed 42
    gen=$(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f')
  fi
  store_size=$(du -sh --exclude=index.snapshot "$dir" | cut -f1)
  starts=(); rss=()
  for _ in $(seq "$RUNS"); do
    start_timed "$dir" --no-index-snapshot # also removes a snapshot left by an earlier run
    starts+=("$started"); rss+=("$peak")
    kill $pid; wait $pid 2>/dev/null || true
  done
  s=$(printf '%s\n' "${starts[@]}" | median | xargs printf '%.2f')
  r=$(printf '%s\n' "${rss[@]}" | median)
  # One start from the store with snapshots on, so that its clean stop writes one.
  start_timed "$dir"
  kill $pid; wait $pid 2>/dev/null || true
  written=$(grep -o 'index snapshot written.*elapsed_ms=[0-9]*' "$work/start.log" | grep -o '[0-9]*$' | awk '{printf "%.2f", $1/1000}')
  snap_size=$(du -sh "$dir/index.snapshot" | cut -f1)
  snap_starts=(); snap_rss=()
  for _ in $(seq "$RUNS"); do
    start_timed "$dir"
    grep -q 'index loaded from its snapshot' "$work/start.log" || { echo "the start did not read the snapshot" >&2; exit 1; }
    snap_starts+=("$started"); snap_rss+=("$peak")
    kill $pid; wait $pid 2>/dev/null || true # nothing written since: the snapshot stays current
  done
  ss=$(printf '%s\n' "${snap_starts[@]}" | median | xargs printf '%.2f')
  sr=$(printf '%s\n' "${snap_rss[@]}" | median)
  echo "| $n | $((n * 5)) | $gen | $store_size | $s | $r | $snap_size | $written | $ss | $sr |" >>"$out"
done
echo >>"$out"

# ---- HTTP ----------------------------------------------------------------------------------
dir=$work/store-$HTTP_SIZE
rm -rf "$work/http-store" # left by an interrupted run; cp would copy into it
cp -r "$dir" "$work/http-store"
token=$("$bin" token create --name bench --role editor --data "$work/http-store" | tail -1)
start_server() { # extra args…
  # One load generator is one client: a budget it cannot spend keeps the rate limit's
  # bookkeeping in the figures without any answer being a 429.
  taskset -c 0 "$bin" serve --data "$work/http-store" --bind 127.0.0.1:18991 --seed-dir /nonexistent --workers 1 \
    --rate-limit-points 2147483647 "$@" >/dev/null 2>&1 &
  server=$!
  until curl -sf http://127.0.0.1:18991/healthz >/dev/null; do sleep 0.02; done
}
stop_server() { kill $server; wait $server 2>/dev/null || true; }

start_server
# 1000 slugs and a hub-free pair list for the varying-variable queries.
python3 - "$work" <<'PY'
import json, sys, time, urllib.request
work = sys.argv[1]
def q(query, variables=None):
    # The first ranking after a start computes PageRank over the whole graph, which at 1M takes
    # longer than the request time limit: it answers REQUEST_TIMEOUT, goes on computing, and
    # the same query answers from the computed ranking soon after.
    for _ in range(60):
        req = urllib.request.Request("http://127.0.0.1:18991/graphql", json.dumps({"query": query, "variables": variables or {}}).encode(), {"content-type": "application/json"})
        answer = json.load(urllib.request.urlopen(req))
        if "data" in answer and answer["data"] is not None:
            return answer["data"]
        if any(e.get("extensions", {}).get("code") != "REQUEST_TIMEOUT" for e in answer.get("errors", [])):
            raise SystemExit(f"setup query failed: {answer}")
        time.sleep(1)
    raise SystemExit(f"setup query still timing out: {query}")
slugs, after = [], None
while len(slugs) < 1000:
    d = q("query($a:String){ entities(first:100, after:$a){ edges{ node{ slug } } pageInfo{ endCursor } } }", {"a": after})
    slugs += [e["node"]["slug"] for e in d["entities"]["edges"]]
    after = d["entities"]["pageInfo"]["endCursor"]
words = sorted({s.split("-")[0] for s in slugs})
with open(f"{work}/vars.lua", "w") as f:
    f.write("slugs = {" + ",".join(json.dumps(s) for s in slugs) + "}\n")
    f.write("words = {" + ",".join(json.dumps(w) for w in words) + "}\n")
# The fixed answer for the baseline: the entity query's bytes, for an entity with at least 20
# relations (the first page is full), but not a hub.
ranked = q("{ ranking(by: DEGREE, first: 100) { entity { slug } degree } }")["ranking"]
hub = next((r["entity"]["slug"] for r in reversed(ranked) if r["degree"] >= 20), ranked[0]["entity"]["slug"])
with open(f"{work}/hub.txt", "w") as f:
    f.write(hub)
PY
hub=$(cat "$work/hub.txt")
ENTITY_Q='query($s:String!){ entity(slug:$s){ id name relations(first:20){ edges{ node{ kind to{ id name } from{ id name } } } } } }'
curl -s http://127.0.0.1:18991/graphql -H 'content-type: application/json' \
  -d "$(python3 -c 'import json,sys; print(json.dumps({"query":sys.argv[1],"variables":{"s":sys.argv[2]}}))' "$ENTITY_Q" "$hub")" >"$work/answer.json"
stop_server

lua() { # name body-expression [token]
  cat >"$work/$1.lua" <<LUA
dofile("$work/vars.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if "${3:-}" ~= "" then wrk.headers["Authorization"] = "Bearer ${3:-}" end
-- Each run starts its counter where no earlier run went (run_wrk passes the start), so no
-- request repeats one the answer cache has seen.
counter = 0
init = function(args) counter = tonumber(args[1]) or 0 end
request = function()
  counter = counter + 1
  local i = (counter % #slugs) + 1
  local j = ((counter * 7919) % #slugs) + 1
  local w = words[(counter % #words) + 1]
  return wrk.format(nil, nil, nil, $2)
end
LUA
}
q() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
lua fixed "'{\"query\":' .. $(q "$(q "$ENTITY_Q")") .. ',\"variables\":{\"s\":\"$hub\"}}'"
# The counter makes every request's variables new, so none is answered from the cache (the
# search, path and neighbourhood cases too: they measure the work, not the answer cache).
lua entity_vary "'{\"query\":' .. $(q "$(q "$ENTITY_Q")") .. ',\"variables\":{\"s\":\"' .. slugs[i] .. '\",\"n\":' .. counter .. '}}'"
lua search "'{\"query\":\"query(\$q:String!){ search(query:\$q, first:10){ id name } }\",\"variables\":{\"q\":\"' .. w .. '\",\"n\":' .. counter .. '}}'"
lua path "'{\"query\":\"query(\$a:ID!,\$b:ID!){ shortestPath(from:\$a,to:\$b,maxLength:6){ length steps{ entity{ name } relation{ kind } } } }\",\"variables\":{\"a\":\"' .. slugs[i] .. '\",\"b\":\"' .. slugs[j] .. '\",\"n\":' .. counter .. '}}'"
lua neighborhood "'{\"query\":\"query(\$s:String!){ neighborhood(slug:\$s, depth:2, limit:100){ nodes{ entity{ id name } depth } edges{ id kind } } }\",\"variables\":{\"s\":\"' .. slugs[i] .. '\",\"n\":' .. counter .. '}}'"
# A summary correction: each request changes one entity, without making it bigger (aliases
# added run after run would slow each run down more than the last).
lua mutation "'{\"query\":\"mutation(\$id:ID!,\$s:String!){ updateEntity(input:{id:\$id, summary:\$s}){ entity{ version } } }\",\"variables\":{\"id\":\"' .. slugs[i] .. '\",\"s\":\"Corrected by bench request ' .. counter .. '.\"}}'" "$token"

# A file, not a variable: run_wrk runs in a subshell.
echo 0 >"$work/counter"
next_base() { local b=$(($(cat "$work/counter") + 10000000)); echo "$b" >"$work/counter"; echo "$b"; }
run_wrk() { # label lua-file url [connections] → "rps p50 p99"
  # First a short check that the answers are answers, not errors.
  cat >"$work/check.lua" <<LUA
dofile("$2")
bad = 0
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    if bad == 1 then io.stderr:write(status .. " " .. string.sub(body, 1, 400) .. "\n") end
  end
end
done = function() io.write("bad responses: " .. bad .. "\n") end
LUA
  taskset -c 1 wrk -t1 -c2 -d1s -s "$work/check.lua" "$3" -- "$(next_base)" >"$work/check.txt" 2>&1
  if ! grep -q "bad responses: 0" "$work/check.txt"; then
    echo "bench: $1 answers with errors; not a valid measurement:" >&2
    cat "$work/check.txt" >&2
    exit 1
  fi
  local results=()
  for _ in $(seq "$RUNS"); do
    taskset -c 1 wrk -t1 -c"${4:-$CONNS}" -d"${DURATION}s" --latency -s "$2" "$3" -- "$(next_base)" >"$work/wrk.txt" 2>&1
    if grep -q "Non-2xx" "$work/wrk.txt"; then
      echo "bench: $1 got error responses; not a valid measurement:" >&2
      cat "$work/wrk.txt" >&2
      exit 1
    fi
    local rps p50 p99
    rps=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
    p50=$(awk '$1=="50%"{print $2}' "$work/wrk.txt")
    p99=$(awk '$1=="99%"{print $2}' "$work/wrk.txt")
    results+=("$rps $p50 $p99")
  done
  printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}

echo "HTTP at $HTTP_SIZE entities ($((HTTP_SIZE * 5)) relations); the entity query is \`entity(slug)\` with its first 20 relations and both ends' id and name ($(wc -c <"$work/answer.json") bytes)." >>"$out"
echo >>"$out"
echo "| case | requests/s | p50 | p99 | share of baseline |" >>"$out"
echo "|---|---|---|---|---|" >>"$out"
taskset -c 0 "$bare" 127.0.0.1:18992 "$work/answer.json" >/dev/null 2>&1 &
bare_pid=$!
sleep 1
read -r base p50 p99 <<<"$(run_wrk baseline "$work/fixed.lua" http://127.0.0.1:18992/)"
kill $bare_pid; wait $bare_pid 2>/dev/null || true
echo "| bare actix-web, same bytes (baseline) | $base | $p50 | $p99 | 100 % |" >>"$out"
row() { echo "| $1 | $2 | $3 | $4 | $(echo "scale=4; 100 * $2 / $base" | bc | xargs printf '%.1f') % |" >>"$out"; } # rounded (records up to dce8b26 truncated)
start_server
read -r r a b <<<"$(run_wrk hit "$work/fixed.lua" http://127.0.0.1:18991/graphql)"; row "entity + 20 relations, repeated (answer cache hit)" "$r" "$a" "$b"
hit=$r
read -r r a b <<<"$(run_wrk miss "$work/entity_vary.lua" http://127.0.0.1:18991/graphql)"; row "entity + 20 relations, slug varies (cache miss)" "$r" "$a" "$b"
miss=$r
read -r r a b <<<"$(run_wrk search "$work/search.lua" http://127.0.0.1:18991/graphql)"; row "search, first 10 (word varies)" "$r" "$a" "$b"
read -r r a b <<<"$(run_wrk path "$work/path.lua" http://127.0.0.1:18991/graphql)"; row "shortest path (pair varies)" "$r" "$a" "$b"
read -r r a b <<<"$(run_wrk neighborhood "$work/neighborhood.lua" http://127.0.0.1:18991/graphql)"; row "2-hop neighbourhood, limit 100 (centre varies)" "$r" "$a" "$b"
echo >>"$out"
# Under 16 connections a request's latency is mostly its wait behind the others (one server core):
# the latency of the work itself is measured one request at a time.
echo "One request at a time (wrk -c1), the latency of the work itself:" >>"$out"
echo >>"$out"
echo "| case | requests/s | p50 | p99 |" >>"$out"
echo "|---|---|---|---|" >>"$out"
row1() { echo "| $1 | $2 | $3 | $4 |" >>"$out"; }
read -r r a b <<<"$(run_wrk miss "$work/entity_vary.lua" http://127.0.0.1:18991/graphql 1)"; row1 "entity + 20 relations, slug varies (cache miss)" "$r" "$a" "$b"
read -r r a b <<<"$(run_wrk search "$work/search.lua" http://127.0.0.1:18991/graphql 1)"; row1 "search, first 10 (word varies)" "$r" "$a" "$b"
read -r r a b <<<"$(run_wrk path "$work/path.lua" http://127.0.0.1:18991/graphql 1)"; row1 "shortest path (pair varies)" "$r" "$a" "$b"
read -r r a b <<<"$(run_wrk neighborhood "$work/neighborhood.lua" http://127.0.0.1:18991/graphql 1)"; row1 "2-hop neighbourhood, limit 100 (centre varies)" "$r" "$a" "$b"
echo >>"$out"
echo "Under load (wrk -c$CONNS), continued:" >>"$out"
echo >>"$out"
echo "| case | requests/s | p50 | p99 | share of baseline |" >>"$out"
echo "|---|---|---|---|---|" >>"$out"
# Mutations after the read cases, which they would disturb (each write moves the graph on).
read -r r a b <<<"$(run_wrk mutation "$work/mutation.lua" http://127.0.0.1:18991/graphql)"; row "mutation updateEntity (summary), 16 concurrent writers (durable)" "$r" "$a" "$b"
stop_server
start_server --answer-cache-mb 0
read -r r a b <<<"$(run_wrk nocache "$work/fixed.lua" http://127.0.0.1:18991/graphql)"; row "entity + 20 relations, repeated, answer cache off" "$r" "$a" "$b"
stop_server
# The same new requests through async-graphql alone: what the compiled read path adds.
start_server --compiled-reads false
read -r r a b <<<"$(run_wrk miss "$work/entity_vary.lua" http://127.0.0.1:18991/graphql)"; row "entity + 20 relations, slug varies, compiled reads off" "$r" "$a" "$b"
executed=$r
stop_server
# Stock async-graphql (its actix extractor and Schema::execute) on the same schema and store.
taskset -c 0 "$stock" 127.0.0.1:18993 "$work/http-store" >/dev/null 2>&1 &
stock_pid=$!
until curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d '{"query":"{ __typename }"}' http://127.0.0.1:18993/graphql; do sleep 0.05; done
read -r r a b <<<"$(run_wrk stock "$work/entity_vary.lua" http://127.0.0.1:18993/graphql)"; row "stock async-graphql, entity + 20 relations, slug varies" "$r" "$a" "$b"
stock_rps=$r
kill $stock_pid; wait $stock_pid 2>/dev/null || true
rm -rf "$work/http-store"

# PostGraphile 4 over Postgres on the same graph: exported from the generated store (untouched
# by the mutations above), loaded into a throwaway cluster, and served by one Node process.
# Node and every Postgres process share core 0, the one core our server has.
if [[ -z ${SKIP_POSTGRAPHILE:-} ]]; then
  pg=$work/pg
  rm -rf "$pg" # left by an interrupted run
  mkdir -p "$pg"
  # initdb and postgres refuse to run as root.
  pg_as=()
  if [[ $(id -u) -eq 0 ]]; then pg_as=(runuser -u postgres --); chown postgres: "$pg"; fi
  stop_pg() {
    if [[ -n ${pgl_pid:-} ]]; then kill "$pgl_pid" 2>/dev/null || true; wait "$pgl_pid" 2>/dev/null || true; fi
    pgl_pid=
    "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$pg" "$work/graph.jsonl"
  }
  trap stop_pg EXIT
  "${pg_as[@]}" "$pg_bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --no-locale >"$pg/initdb.log"
  # Only a unix socket in the work dir: nothing to collide with on the machine's ports. The
  # cluster is thrown away at the end, so the load need not be durable (reads are unaffected);
  # JIT off, as is usual for short queries (it would compile for the planner's estimate of a
  # hub's relations).
  taskset -c 0 "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -o \
    "-c listen_addresses='' -c unix_socket_directories='$pg' -c shared_buffers=1GB -c jit=off -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  export PGHOST=$pg PGUSER=postgres PGDATABASE=bench
  psql -X -q -d postgres -c 'create database bench'
  "$bin" export --data "$dir" --seed-dir /nonexistent --format jsonl --out "$work/graph.jsonl" >/dev/null
  t0=$(date +%s.%N)
  loaded=$(python3 bench/postgraphile/load.py "$work/graph.jsonl")
  load_s=$(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f')
  rm -f "$work/graph.jsonl"
  NODE_ENV=production taskset -c 0 node bench/postgraphile/node_modules/.bin/postgraphile \
    --connection "postgres://postgres@localhost/bench?host=$pg" --schema public \
    --host 127.0.0.1 --port 18994 --disable-graphiql --disable-query-log --simple-collections only \
    >"$pg/postgraphile.log" 2>&1 &
  pgl_pid=$!
  # It reads the database's catalogue before it listens; it keeps retrying a connection it cannot make.
  for i in $(seq 600); do
    curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d '{"query":"{ __typename }"}' http://127.0.0.1:18994/graphql && break
    if [[ $i -eq 600 ]] || ! kill -0 $pgl_pid 2>/dev/null; then
      echo "bench: PostGraphile did not start:" >&2; cat "$pg/postgraphile.log" >&2; exit 1
    fi
    sleep 0.1
  done
  # Our entity query's fields (both ends' id and name of the first 20 relations, both ways:
  # the computed field of schema.sql), and those of issue 19's PostGraphile reference query
  # (each relation's id, date and first cited document), in the primary key's order.
  PG_Q='query($s:String!){ entityBySlug(slug:$s){ id name relationsList(first:20, orderBy:[PRIMARY_KEY_ASC]){ id kind validFrom citations(first:1, orderBy:[PRIMARY_KEY_ASC]){ document{ id } } from{ id name } to{ id name } } } }'
  curl -s http://127.0.0.1:18994/graphql -H 'content-type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"query":sys.argv[1],"variables":{"s":sys.argv[2]}}))' "$PG_Q" "$hub")" >"$pg/answer.json"
  pg_bytes=$(wc -c <"$pg/answer.json")
  # Answers without errors are not enough: an empty list is one too.
  python3 - "$pg/answer.json" "$hub" <<'PY' || exit 1
import json, sys
answer = json.load(open(sys.argv[1]))
e = (answer.get("data") or {}).get("entityBySlug")
if "errors" in answer or not e or e["id"] != sys.argv[2] or len(e["relationsList"]) != 20 \
        or not all(r["citations"] and r["to"] and r["from"] for r in e["relationsList"]):
    sys.exit(f"bench: PostGraphile's answer for {sys.argv[2]} is not the entity with 20 relations: {json.dumps(answer)[:600]}")
PY
  lua pg_fixed "'{\"query\":' .. $(q "$(q "$PG_Q")") .. ',\"variables\":{\"s\":\"$hub\"}}'"
  lua pg_vary "'{\"query\":' .. $(q "$(q "$PG_Q")") .. ',\"variables\":{\"s\":\"' .. slugs[i] .. '\"}}'"
  pgl_v=$(node -p 'require("./bench/postgraphile/node_modules/postgraphile/package.json").version')
  pg_v=$("$pg_bin/postgres" --version | awk '{print $3}')
  pg_label="PostGraphile ${pgl_v%%.*} over Postgres ${pg_v%%.*}"
  read -r r a b <<<"$(run_wrk pg_miss "$work/pg_vary.lua" http://127.0.0.1:18994/graphql)"; row "$pg_label, slug varies" "$r" "$a" "$b"
  pg_new=$r
  read -r r a b <<<"$(run_wrk pg_hit "$work/pg_fixed.lua" http://127.0.0.1:18994/graphql)"; row "$pg_label, repeated" "$r" "$a" "$b"
  stop_pg
  trap - EXIT
  echo >>"$out"
  echo "PostGraphile $pgl_v (Node $(node --version)) over Postgres $pg_v: the same graph, exported with \`policygraph export --format jsonl\` and loaded by \`bench/postgraphile/load.py\` ($loaded, ${load_s} s); one Node process and Postgres (shared_buffers 1 GB, JIT off) both pinned to core 0, wrk on core 1. Its query: \`entityBySlug\` with its first 20 relations both ways in primary-key order, each with id, kind, validFrom, its first citation's document id and both ends' id and name ($pg_bytes bytes for the same entity); no answer cache, so repeated is the same work as slug varies." >>"$out"
fi
echo >>"$out"

# Issue 19's targets, from this run's own figures.
ratio() { echo "scale=4; $1 / $2" | bc | xargs printf '%.2f'; }
{
  echo "Ratios (requests/s of this run; issue 19's targets in brackets):"
  echo
  echo "- new request (slug varies) / stock async-graphql: $(ratio "$miss" "$stock_rps")× (≥ 2×)"
  echo "- new request, compiled reads / compiled reads off: $(ratio "$miss" "$executed")×"
  [[ -n ${pg_new:-} ]] && echo "- new request / PostGraphile, slug varies: $(ratio "$miss" "$pg_new")× (≥ 20×)"
  echo "- repeated (answer cache hit) / bare route: $(echo "scale=4; 100 * $hit / $base" | bc | xargs printf '%.1f') % (≥ 75 %)"
  [[ -n ${pg_new:-} ]] && echo "- repeated / PostGraphile, slug varies: $(ratio "$hit" "$pg_new")× (≥ 100×)"
  echo
} >>"$out"

# ---- in-process ------------------------------------------------------------------------------
if [[ -z ${SKIP_CRITERION:-} ]]; then
  BENCH_ENTITIES=$(echo "${CRITERION_SIZES:-$SIZES}" | tr ' ' ',') taskset -c 0 cargo bench --locked --bench graph 2>&1 | tee "$work/criterion.txt" | grep -E '^[0-9]+_entities|time:' || true
  echo "In-process (criterion, pinned to core 0; its point estimate of the mean time per call):" >>"$out"
  echo >>"$out"
  echo "| benchmark | time |" >>"$out"
  echo "|---|---|" >>"$out"
  awk '/^[0-9]+_entities\// {name=$1} /time:/ { if ($1 ~ /^[0-9]+_entities\//) name=$1; sub(/.*time: +\[/, ""); split($0, t, " "); print "| " name " | " t[3] " " t[4] " |" }' "$work/criterion.txt" >>"$out"
fi
echo "wrote $out"
cat "$out"
