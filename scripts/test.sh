#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): installs what the tests need,
# then runs every test. Works from any directory, on a fresh clone of a fresh machine.
#   1. scripts/install-test-deps.sh: Debian's chromium and the npm packages of tests/browser
#   2. the tests, with cargo-nextest when it is installed (each test in its own process, the
#      hostile-load and replica tests alone: .config/nextest.toml), else with `cargo test`
# Every failing test is reported (no stop at the first). Extra arguments go to the runner.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-deps.sh

# A one-off build gains nothing from incremental state but its disk (gigabytes over ~40 test
# binaries); a developer who reruns this often can set CARGO_INCREMENTAL=1.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if cargo nextest --version >/dev/null 2>&1; then
  echo "test: cargo nextest run $*"
  exec cargo nextest run --locked --no-fail-fast "$@"
elif [[ $# -gt 0 ]]; then
  echo "test: cargo-nextest is not installed; cargo test $*"
  exec cargo test --locked --no-fail-fast "$@"
else
  # Without nextest the integration tests share one process: the hostile-load and replica tests
  # run after the rest, one at a time, as nextest's overrides have them.
  echo "test: cargo-nextest is not installed; cargo test"
  status=0
  cargo test --locked --no-fail-fast -- --skip hostile:: --skip replicas:: || status=$?
  cargo test --locked --no-fail-fast --test integration -- --test-threads=1 hostile:: replicas:: || status=$?
  exit "$status"
fi
