#!/usr/bin/env bash
# The relay (POST /v1/traces) at its limits, against the release build, forwarding to the Rust
# sink (backend/examples/telemetry_sink.rs):
# - spans per second accepted with the default budgets (the global 20,000 spans/s decides),
#   and with every budget lifted (what the relay itself can do on this machine), and per
#   second of the backend's CPU time (user + system, from /proc): the spans/s one core takes;
# - the backend's resident memory before and after 20 of the costliest exports the relay
#   accepts, with the local trace store off and on.
# Usage: bash bench/relay.sh [seconds per throughput run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
cargo build --release -q -p backend --bin backend --example telemetry_sink --example relay_load
port=47569
sink_port=47319
./target/release/examples/telemetry_sink "$sink_port" >/dev/null 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT

start_backend() {
  env "$@" PORT=$port RUST_LOG=warn AWS_XRAY_SDK_ENABLED=false CRUDDUR_TRUSTED_PROXIES=127.0.0.1 \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" ./target/release/backend 2>/dev/null &
  backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
}
stop_backend() { kill -TERM "$backend" && wait "$backend" || true; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$backend/status"; }
# The backend's user + system time so far, in clock ticks (100 a second).
cpu_ticks() { sed 's/.*) //' "/proc/$backend/stat" | awk '{print $12 + $13}'; }
# throughput ARGS...: relay_load's line, then the spans accepted per second of the backend's CPU.
throughput() {
  local before line spans
  before=$(cpu_ticks)
  line=$(./target/release/examples/relay_load "http://127.0.0.1:$port" throughput "$@")
  spans=$(awk '{print $1}' <<<"$line")
  printf '%s; %.0f spans per CPU-second\n' "$line" \
    "$(awk -v s="$spans" -v t="$seconds" -v c="$(($(cpu_ticks) - before))" 'BEGIN {print s * t * 100 / c}')"
}

unlimited=(CRUDDUR_RELAY_REQUESTS_PER_SECOND=1000000 CRUDDUR_RELAY_REQUEST_BURST=1000000
  CRUDDUR_RELAY_SPANS_PER_SECOND=100000000 CRUDDUR_RELAY_SPAN_BURST=100000000
  CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND=100000000 CRUDDUR_RELAY_GLOBAL_SPAN_BURST=100000000)

echo "relay throughput, ${seconds}s per run, 32 connections, 256 clients, $(nproc) cores"
for spans in 50 2000; do
  start_backend CRUDDUR_LOCAL_TRACES=off
  printf 'default budgets, %4d-span exports:  ' "$spans"
  throughput "$seconds" 32 "$spans" 256
  stop_backend
  start_backend CRUDDUR_LOCAL_TRACES=off "${unlimited[@]}"
  printf 'budgets lifted,  %4d-span exports:  ' "$spans"
  throughput "$seconds" 32 "$spans" 256
  stop_backend
done

echo
echo "resident memory around 20 maximal exports"
for store in off on; do
  start_backend CRUDDUR_LOCAL_TRACES=$store "${unlimited[@]}"
  before=$(rss)
  result=$(./target/release/examples/relay_load "http://127.0.0.1:$port" maximal 20)
  sleep 1
  after=$(rss)
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$backend/status")
  printf 'local store %-3s  before %6d KB  after %6d KB  peak %6d KB  (%s)\n' "$store" "$before" "$after" "$peak" "$result"
  stop_backend
done
