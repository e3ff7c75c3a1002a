#!/usr/bin/env bash
# Installs what the build and the tests need; CI runs it first. Idempotent, works from any cwd.
#   0. protoc and its includes (the etcd client crate compiles etcd's protobuf files) and Debian's
#      etcd-server (the etcd backend's tests start clusters of it), when missing
#   1. Debian's chromium, if no `chromium` is on PATH (apt-get, via sudo when not root)
#   2. playwright-core in tests/browser (npm ci), unless already installed from the same lock file
# Env: SKIP_CHROMIUM=1 skips step 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
say() { echo "install-test-deps: $*"; }

# apt-get through sudo when not root; `apt-get update` once, before the first install.
SUDO=()
apt_updated=0
apt_install() {
  if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { say "not root and no sudo: cannot install $*" >&2; exit 1; }
    SUDO=(sudo -n)
  fi
  if [[ $apt_updated == 0 ]]; then
    "${SUDO[@]}" apt-get update -q
    apt_updated=1
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# ---- 0. protoc and etcd -------------------------------------------------------------------------
missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# Without the includes the build fails on google/protobuf/descriptor.proto.
[[ -f /usr/include/google/protobuf/descriptor.proto ]] || missing+=(libprotobuf-dev)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if [[ ${#missing[@]} -eq 0 ]]; then
  say "protoc and etcd present: $(protoc --version), etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}')"
else
  say "missing ${missing[*]}: apt-get install"
  apt_install "${missing[@]}"
  command -v etcd >/dev/null 2>&1 || { say "etcd still not on PATH after apt-get install" >&2; exit 1; }
  say "installed ${missing[*]}"
fi

# ---- 1. chromium ------------------------------------------------------------------------------
if [[ ${SKIP_CHROMIUM:-} == 1 ]]; then
  say "SKIP_CHROMIUM=1: not checking chromium"
elif command -v chromium >/dev/null 2>&1; then
  say "chromium present: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
else
  say "chromium not on PATH: apt-get install -y chromium"
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || { say "chromium still not on PATH after apt-get install" >&2; exit 1; }
  say "installed $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
fi

# ---- 2. npm packages for tests/browser -----------------------------------------------------------
dir=$root/tests/browser
stamp=$dir/node_modules/.policygraph-lock.sha256
lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ -f $dir/node_modules/playwright-core/package.json && -f $stamp && $(cat "$stamp") == "$lock_sum" ]]; then
  say "tests/browser: playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version") already installed from this lock file"
else
  command -v npm >/dev/null 2>&1 || { say "npm not found: install Node.js >= 20 (apt-get install -y nodejs npm)" >&2; exit 1; }
  say "tests/browser: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund)
  echo "$lock_sum" >"$stamp"
  say "tests/browser: playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version") installed"
fi
say "done"
