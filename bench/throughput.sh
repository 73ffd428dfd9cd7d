#!/usr/bin/env bash
# Requests/s on GET /api/activities/home under each telemetry setting, same build, same machine,
# one run after the other: OTLP export on (to a local sink) against OTEL_SDK_DISABLED=true, an
# OTLP endpoint that is down, and X-Ray at 100% sampling (to a local UDP sink) against X-Ray off.
# Usage: bash bench/throughput.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-32}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p backend --bin backend --example telemetry_sink

port=47567
sink_port=47318
./target/release/examples/telemetry_sink "$sink_port" 2>/dev/null &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT

run() {
  local label=$1; shift
  env "$@" PORT=$port RUST_LOG=warn AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$sink_port" \
    ./target/release/backend 2>/dev/null &
  local backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
  wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$port/api/activities/home" >/dev/null
  local rps
  rps=$(wrk -t1 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/api/activities/home" |
    awk '/Requests\/sec/ {print $2}')
  local rss
  rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$backend/status")
  kill -TERM $backend && wait $backend
  printf '%-40s %10s req/s   peak RSS %s\n' "$label" "$rps" "$rss"
}

all='{"version":2,"default":{"fixed_target":0,"rate":1}}'
echo "GET /api/activities/home, wrk ${connections} connections, ${duration}s per run, $(nproc) cores"
run "OTLP export on, X-Ray off" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off
run "OTEL_SDK_DISABLED=true" OTEL_SDK_DISABLED=true CRUDDUR_LOCAL_TRACES=off
run "OTLP endpoint down, X-Ray off" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9" AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off
run "no OTLP, X-Ray off, trace store off" AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off
run "no OTLP, X-Ray off, trace store on" AWS_XRAY_SDK_ENABLED=false
run "no OTLP, X-Ray at 100%, trace store off" AWS_XRAY_SAMPLING_RULES="$all" CRUDDUR_LOCAL_TRACES=off
kill -TERM $sink && wait $sink || true
