#!/usr/bin/env bash
# Requests/s on GET /api/activities/home with span export on (to a local OTLP/HTTP sink) and
# with OTEL_SDK_DISABLED=true, same build, same machine, one after the other.
# Usage: bash bench/throughput.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-32}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p backend --bin backend --example otlp_sink

port=47567
sink_port=47318
./target/release/examples/otlp_sink "$sink_port" 2>/dev/null &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT

run() {
  local label=$1; shift
  env "$@" PORT=$port RUST_LOG=warn ./target/release/backend 2>/dev/null &
  local backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
  wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$port/api/activities/home" >/dev/null
  local rps
  rps=$(wrk -t1 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/api/activities/home" |
    awk '/Requests\/sec/ {print $2}')
  local rss
  rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$backend/status")
  kill -TERM $backend && wait $backend
  printf '%-28s %10s req/s   peak RSS %s\n' "$label" "$rps" "$rss"
}

echo "GET /api/activities/home, wrk ${connections} connections, ${duration}s per run, $(nproc) cores"
run "export on (OTLP/HTTP)" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port"
run "OTEL_SDK_DISABLED=true" OTEL_SDK_DISABLED=true
run "export on, endpoint down" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"
kill -TERM $sink && wait $sink || true
