#!/usr/bin/env bash
# What a browser downloads for Cruddur: a release bundle's wasm, JS, CSS and HTML, raw and
# gzipped (gzip -9, as a server would send them), each file and the total. The aim is 100 KB.
#
#   bench/bundle-size.sh                     builds both bundles and reports them
#   bench/bundle-size.sh --check BYTES DIST  reports DIST as it is built, and fails when its
#                                            gzipped total passes BYTES (scripts/test.sh sets the
#                                            users' bundle's budget)
#
# Two builds: the users' bundle (`--no-default-features`: no local trace view, whose API the
# backend turns off in production) is the one the budget is for; the developers' build (the
# default, with /traces) is reported beside it. They are left in frontend/dist-users and
# frontend/dist, where scripts/test.sh builds them too.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob

# Prints a row for each file of the bundle in $1 and its total; leaves the total in $total.
report() {
  local dist=$1 file raw gzipped
  local wasm=("$dist"/*.wasm)
  if [ ! -e "$dist"/index.html ] || [ ${#wasm[@]} -eq 0 ]; then
    echo "bundle-size: $dist holds no built bundle (index.html and a .wasm); build it first" >&2
    exit 1
  fi
  total=0
  for file in "${wasm[@]}" "$dist"/*.js "$dist"/*.css "$dist"/*.html; do
    raw=$(wc -c <"$file")
    gzipped=$(gzip -9c "$file" | wc -c)
    total=$((total + gzipped))
    printf '%-48s %8d bytes  %8d gzipped\n' "$(basename "$file")" "$raw" "$gzipped"
  done
  printf '%-48s %8s        %8d gzipped (%d KB)\n' "total" "" "$total" "$((total / 1000))"
}

if [ "${1:-}" = "--check" ]; then
  if [ $# -ne 3 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: bench/bundle-size.sh --check BYTES DIST" >&2
    exit 2
  fi
  budget=$2 dist=$3
  echo "== $dist, gzipped, against a budget of $budget bytes"
  report "$dist"
  if [ "$total" -gt "$budget" ]; then
    echo "bundle-size: $dist is $total bytes gzipped, $((total - budget)) over its budget of $budget bytes" >&2
    exit 1
  fi
  echo "within budget: $total of $budget bytes ($((budget - total)) to spare)"
  exit 0
fi

. scripts/setup.sh >/dev/null

measure() {
  local label=$1 dist=$2
  shift 2
  (cd frontend && trunk build --release --offline --dist "$dist" "$@" >/dev/null 2>&1)
  echo "== $label"
  report "frontend/$dist"
}

measure "users' bundle (trunk build --release --no-default-features)" dist-users --no-default-features
measure "developers' build, with the local trace view (trunk build --release)" dist
