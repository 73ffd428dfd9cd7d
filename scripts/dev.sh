#!/usr/bin/env bash
# Sets up and runs Cruddur for development: the API on :4567 and the frontend on :3000
# (trunk serve, rebuilding on every change). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build -p backend

# The local trace view shows every request's details: on for development, on loopback only.
CRUDDUR_LOCAL_TRACES="${CRUDDUR_LOCAL_TRACES:-on}" CRUDDUR_BIND="${CRUDDUR_BIND:-127.0.0.1}" \
  cargo run -q -p backend &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT INT TERM

echo
echo "Cruddur:      http://localhost:3000  (the first build of the frontend takes a few minutes)"
echo "Cruddur API:  http://localhost:${PORT:-4567}/api/activities/home"
echo "Traces:       http://localhost:3000/traces  (kept in memory; no account needed)"
echo "Spans also go where OTEL_EXPORTER_OTLP_ENDPOINT points, if set (see README). Ctrl-C stops."
echo
cd frontend
trunk serve --offline
