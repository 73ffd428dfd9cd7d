#!/usr/bin/env bash
# The local trace view at its caps. First its memory: wrk fills the store (each
# GET /api/activities/home is one trace of two spans), then the backend's resident memory is
# read beside the store's own estimate, against the same load with the store off. Then the
# store full of browser spans (500 traces, 64 MB, a trace of 5,000 spans): the worst lock hold
# in process, and GET /api/traces against the binary filled through its relay
# (backend/examples/trace_store_caps.rs).
# Usage: bash bench/trace-store.sh [seconds of load, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p backend --bin backend --example trace_store_caps
port=47568

run() {
  local label=$1; shift
  env "$@" PORT=$port RUST_LOG=warn AWS_XRAY_SDK_ENABLED=false ./target/release/backend 2>/dev/null &
  local backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
  local rps
  rps=$(wrk -t1 -c16 -d"${duration}s" "http://127.0.0.1:$port/api/activities/home" |
    awk '/Requests\/sec/ {print $2}')
  sleep 1 # the last batch reaches the store
  local kept
  kept=$(curl -s "http://127.0.0.1:$port/api/traces" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d) if isinstance(d, list) else "-")' 2>/dev/null || echo "-")
  local rss peak
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$backend/status")
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$backend/status")
  kill -TERM $backend && wait $backend
  printf '%-52s %9s req/s  %7s traces kept  RSS %6d KB (peak %6d KB)\n' "$label" "$rps" "$kept" "$rss" "$peak"
}

echo "GET /api/activities/home, wrk 16 connections, ${duration}s, $(nproc) cores, no OTLP endpoint"
run "store off (CRUDDUR_LOCAL_TRACES=off)" CRUDDUR_LOCAL_TRACES=off
run "store on, defaults (500 traces, 64 MB)" CRUDDUR_LOCAL_TRACES=on
run "store on, 1,000,000 traces or 16 MB: the byte cap" CRUDDUR_LOCAL_TRACES=on CRUDDUR_LOCAL_TRACES_MAX_TRACES=1000000 CRUDDUR_LOCAL_TRACES_MAX_MB=16
run "store on, 1,000,000 traces or 64 MB: the byte cap" CRUDDUR_LOCAL_TRACES=on CRUDDUR_LOCAL_TRACES_MAX_TRACES=1000000 CRUDDUR_LOCAL_TRACES_MAX_MB=64

echo
echo "The store at its caps with browser spans, in process:"
./target/release/examples/trace_store_caps

echo
echo "The binary at its caps, filled through the relay:"
# The relay's span budgets lifted, so that filling takes seconds.
CRUDDUR_LOCAL_TRACES=on CRUDDUR_RELAY_SPANS_PER_SECOND=1000000 CRUDDUR_RELAY_SPAN_BURST=1000000 \
  CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND=1000000 CRUDDUR_RELAY_REQUESTS_PER_SECOND=1000 \
  PORT=$port RUST_LOG=warn AWS_XRAY_SDK_ENABLED=false ./target/release/backend 2>/dev/null &
backend=$!
until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
./target/release/examples/trace_store_caps "http://127.0.0.1:$port"
printf 'backend resident %d KB (peak %d KB)\n' \
  "$(awk '/VmRSS/ {print $2}' "/proc/$backend/status")" "$(awk '/VmHWM/ {print $2}' "/proc/$backend/status")"
kill -TERM $backend && wait $backend
