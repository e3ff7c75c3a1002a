#!/usr/bin/env bash
# The bulk import benchmark (BENCHMARKS.md, "Bulk import"): a synthetic graph of $SIZE entities
# and 5×$SIZE relations written as JSON Lines (documents carrying the texts their quotes are
# found in), imported into a new sled store by `policygraph import` from the release build.
#
#   SIZE=1000000 bash bench/import.sh      # writes bench/results/<date>-<commit>-import-<size>.md
#
# Measures, with /usr/bin/time: the import's wall time and peak RSS (every record checked, every
# quote found, every chunk committed durably with its audit entries); the same import run again
# over the full store (everything compared and found unchanged: what a resume after a crash
# costs at most); a dry run; and the export of the imported store back to JSON Lines. Checks
# that the export holds as many lines as the input.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE=${SIZE:-100000}
CHUNK=${CHUNK:-1000}
say() { echo "bench/import: $*" >&2; }
cargo build --release --locked -q
bin=target/release/policygraph
work=${WORK:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

"$bin" gen-synthetic --entities "$SIZE" --relations $((SIZE * 5)) --seed 42 --jsonl "$work/graph.jsonl" 2>/dev/null
bytes=$(stat -c %s "$work/graph.jsonl")
lines=$(wc -l <"$work/graph.jsonl")
say "input: $lines records, $bytes bytes"

timed() { # name, then the command; prints "seconds peak_MiB"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    say "$name failed:"; tail -5 "$work/$name.err" >&2; exit 1; }
  awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/$name.time"
}
read -r dry_s dry_mib < <(timed dry "$bin" import --dry-run --data "$work/dry" "$work/graph.jsonl")
say "dry run: ${dry_s} s, ${dry_mib} MiB"
read -r import_s import_mib < <(timed import "$bin" import --chunk "$CHUNK" --data "$work/data" "$work/graph.jsonl")
say "import: ${import_s} s, ${import_mib} MiB: $(tail -1 "$work/import.out")"
read -r again_s again_mib < <(timed again "$bin" import --chunk "$CHUNK" --data "$work/data" "$work/graph.jsonl")
say "again: ${again_s} s, ${again_mib} MiB: $(tail -1 "$work/again.out")"
read -r export_s export_mib < <(timed export "$bin" export --format jsonl --data "$work/data" --out "$work/export.jsonl")
exported=$(wc -l <"$work/export.jsonl")
say "export: ${export_s} s, ${export_mib} MiB, $exported records"
[[ $exported -eq $lines ]] || { say "the export has $exported records, the input $lines"; exit 1; }
store_mib=$(du -sm "$work/data" | cut -f1)

commit=$(git rev-parse --short HEAD)
out="bench/results/$(date +%F)-$commit-import-$SIZE.md"
cat >"$out" <<MD
# Bulk import, $SIZE entities / $((SIZE * 5)) relations ($commit, $(date -u +%FT%TZ))

Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB.
Input: \`gen-synthetic --jsonl\`, $lines records, $((bytes / 1048576)) MiB of JSON Lines. Chunks of $CHUNK records.

| run | wall time | peak RSS |
|---|---|---|
| dry run (read, check, quotes; nothing written) | ${dry_s} s | ${dry_mib} MiB |
| import into an empty sled store | ${import_s} s | ${import_mib} MiB |
| the same import again (all unchanged) | ${again_s} s | ${again_mib} MiB |
| export of the store to JSON Lines | ${export_s} s | ${export_mib} MiB |

Store on disk after the import: ${store_mib} MiB.

Import's report: $(tail -1 "$work/import.out")
Again: $(tail -1 "$work/again.out")
MD
say "wrote $out"
