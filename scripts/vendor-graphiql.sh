#!/usr/bin/env bash
# Fetches the GraphiQL, GraphiQL Explorer plugin and React files in static/graphiql/ again from the npm registry (npm pack)
# and checks them against the sha256 sums in static/graphiql/LICENSES.md.
#   bash scripts/vendor-graphiql.sh           # re-copy the files, then check
#   bash scripts/vendor-graphiql.sh --check   # only check the files in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest=static/graphiql
if [[ ${1:-} != --check ]]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent graphiql@3.9.0 @graphiql/plugin-explorer@3.2.6 react@18.3.1 react-dom@18.3.1 >/dev/null)
  for p in graphiql-3.9.0 graphiql-plugin-explorer-3.2.6 react-18.3.1 react-dom-18.3.1; do mkdir "$tmp/$p" && tar xzf "$tmp/$p.tgz" -C "$tmp/$p"; done
  cp "$tmp/graphiql-3.9.0/package/graphiql.min.js" "$tmp/graphiql-3.9.0/package/graphiql.min.css" "$dest/"
  cp "$tmp/graphiql-plugin-explorer-3.2.6/package/dist/index.umd.js" "$dest/graphiql-plugin-explorer.umd.js"
  cp "$tmp/graphiql-plugin-explorer-3.2.6/package/dist/style.css" "$dest/graphiql-plugin-explorer.css"
  cp "$tmp/react-18.3.1/package/umd/react.production.min.js" "$dest/"
  cp "$tmp/react-dom-18.3.1/package/umd/react-dom.production.min.js" "$dest/"
  echo "copied from npm into $dest/"
fi
fail=0
while IFS='|' read -r _ file _ _ _ _ sum _; do
  file=$(echo "$file" | tr -d ' `'); sum=$(echo "$sum" | tr -d ' `')
  [[ $file == *.js || $file == *.css ]] && [[ $sum =~ ^[0-9a-f]{64}$ ]] || continue
  got=$(sha256sum "$dest/$file" | cut -d' ' -f1)
  if [[ $got == "$sum" ]]; then echo "ok    $file"; else echo "WRONG $file (sha256 $got)"; fail=1; fi
done <"$dest/LICENSES.md"
exit $fail
