#!/usr/bin/env bash
# What a browser downloads for Cruddur: the release bundle's wasm, JS and CSS, raw and gzipped
# (gzip -9, as a server would send them). Budget: 135 KB gzipped; aim: 100 KB.
#
# Two builds: the users' bundle (`--no-default-features`: no local trace view, whose API the
# backend turns off in production) is the one the budget is for; the developers' build (the
# default, with /traces) is reported beside it. They are left in frontend/dist-users and
# frontend/dist, where scripts/test.sh builds them too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh >/dev/null

measure() {
  local label=$1 dist=$2
  shift 2
  (cd frontend && trunk build --release --offline --dist "$dist" "$@" >/dev/null 2>&1)
  local total=0 file raw gzipped
  echo "== $label"
  for file in "frontend/$dist"/*.wasm "frontend/$dist"/*.js "frontend/$dist"/*.css; do
    raw=$(wc -c <"$file")
    gzipped=$(gzip -9c "$file" | wc -c)
    total=$((total + gzipped))
    printf '%-48s %8d bytes  %8d gzipped\n' "$(basename "$file")" "$raw" "$gzipped"
  done
  printf '%-48s %8s        %8d gzipped (%d KB)\n' "total" "" "$total" "$((total / 1000))"
}

measure "users' bundle (trunk build --release --no-default-features)" dist-users --no-default-features
measure "developers' build, with the local trace view (trunk build --release)" dist
