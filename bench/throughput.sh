#!/usr/bin/env bash
# Telemetry's cost (docs/performance.md): the same release binary under each telemetry setting,
# the settings alternating, RUNS rounds of each, spans sent to the Rust sink that accepts and
# discards (backend/examples/telemetry_sink.rs). Per setting, the median of the rounds of:
# - requests/s at saturation (wrk, 16 connections, SECONDS);
# - p50 and p99 latency at a fixed RATE (backend/examples/request_load.rs, 16 connections);
# - CPU per request at that rate: the backend's user + system time from /proc over the run;
# - peak RSS (VmHWM) after both.
# Then, once per setting (they repeat exactly): instructions per request under callgrind,
# counted over COUNT requests between a `callgrind_control --zero` and a `--dump`, each after
# the exporters' batch schedule has passed, so every span of those requests is exported inside
# the count. The same for POST /api/activities, telemetry off and full.
# Usage: bash bench/throughput.sh [seconds per saturation run, default 10] [rounds, default 3]
#        [fixed rate, default 2000] [requests counted under callgrind, default 2000]
# BENCH_ROWS="1 4" limits the settings to those rows; BENCH_SKIP=callgrind or =timed skips a part;
# BENCH_PROFILE_DIR keeps each callgrind dump (named after its row) for callgrind_annotate.
# BENCH_PAGE=full measures a full home page (bench/full-page.sh) instead of the seeds' page of 4;
# BENCH_BINARY=path measures that backend binary (e.g. the previous commit's) instead of this one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-3}
rate=${3:-2000}
count=${4:-2000}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
cargo build --release -q -p backend --bin backend --example telemetry_sink --example request_load

port=47567
sink_port=47318
home="http://127.0.0.1:$port/api/activities/home"
activities="http://127.0.0.1:$port/api/activities"
activity='{"message":"a crud to measure","ttl":"7-days"}'
load=./target/release/examples/request_load
binary=${BENCH_BINARY:-./target/release/backend}
./target/release/examples/telemetry_sink "$sink_port" >/dev/null 2>&1 &
sink=$!
backend=
# Everything the run writes (the database, the results, callgrind's dumps), removed however it ends.
work=$(mktemp -d)
trap 'kill $sink ${backend:+$backend} 2>/dev/null || true; rm -rf "$work"' EXIT

sink_url="http://127.0.0.1:$sink_port"
# A fresh SQLite database with the seed data, and a write budget no run reaches.
data=$work/data
mkdir "$data"
database="CRUDDUR_DATA_DIR=$data CRUDDUR_WRITE_BUDGET=1000000000 CRUDDUR_READ_BUDGET=1000000000 CRUDDUR_SEARCH_BUDGET=1000000000"
all='{"version":2,"default":{"fixed_target":0,"rate":1}}'
labels=(
  "off (OTEL_SDK_DISABLED=true)"
  "spans made, not exported"
  "OTLP of every span"
  "OTLP + X-Ray default sampling"
  "OTLP + X-Ray 100%"
  "OTLP + X-Ray 100% + local store"
  "OTLP of every span, gzip"
)
settings=(
  "OTEL_SDK_DISABLED=true AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off"
  "AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url CRUDDUR_LOCAL_TRACES=off"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url AWS_XRAY_SAMPLING_RULES=$all CRUDDUR_LOCAL_TRACES=off"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url AWS_XRAY_SAMPLING_RULES=$all CRUDDUR_LOCAL_TRACES=on"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url OTEL_EXPORTER_OTLP_COMPRESSION=gzip AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off"
)
read -r -a rows <<<"${BENCH_ROWS:-1 2 3 4 5 6 7}"

# start_backend ROW [command prefix...]: the backend with the row's settings, once it answers.
start_backend() {
  local row=$1; shift
  # shellcheck disable=SC2086 # the settings are words on purpose
  env ${settings[row - 1]} $database PORT=$port RUST_LOG=warn AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$sink_port" \
    "$@" "$binary" >/dev/null 2>&1 &
  backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.2; done
}
stop_backend() { kill -TERM "$backend" && wait "$backend" || true; backend=; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }

# The database is made once, with the page it will serve.
start_backend 1
if [ "${BENCH_PAGE:-}" = full ]; then
  # shellcheck source=bench/full-page.sh
  . bench/full-page.sh
  fill_full_page "http://127.0.0.1:$port"
fi
page_bytes=$(curl -sf -o /dev/null -w '%{size_download}' "$home")
stop_backend

results=$work/results
mkdir "$results"
timed_round() {
  local row=$1
  start_backend "$row"
  wrk -t1 -c16 -d2s "$home" >/dev/null
  wrk -t1 -c16 -d"${seconds}s" "$home" | awk '/Requests\/sec/ {print $2}' >>"$results/$row.rps"
  local line
  line=$($load rate "$home" "$rate" 5 "$backend")
  sed -E 's/.*p50 ([0-9]+) µs  p99 ([0-9]+) µs  CPU ([0-9.]+).*/\1 \2 \3/' <<<"$line" >>"$results/$row.fixed"
  awk '/VmHWM/ {print $2}' "/proc/$backend/status" >>"$results/$row.rss"
  stop_backend
}

# instructions ROW URL [JSON]: instructions per request, counted under callgrind.
instructions() {
  local row=$1 url=$2 json=${3:-}
  local out=$work/callgrind
  mkdir -p "$out"
  start_backend "$row" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out"
  $load count "$url" 200 ${json:+"$json"} >/dev/null
  sleep 6
  callgrind_control --zero "$backend" >/dev/null 2>&1
  $load count "$url" "$count" ${json:+"$json"} >/dev/null
  sleep 6
  callgrind_control --dump "$backend" >/dev/null 2>&1
  stop_backend
  local dump
  dump=$(ls "$out"/callgrind.out.* | tail -1)
  if [ -n "${BENCH_PROFILE_DIR:-}" ]; then
    mkdir -p "$BENCH_PROFILE_DIR"
    cp "$dump" "$BENCH_PROFILE_DIR/row$row${json:+-post}.callgrind"
  fi
  awk -v n="$count" '/^summary:/ {printf "%.0f", $2 / n}' "$dump"
  rm -rf "$out"
}

echo "GET /api/activities/home ($page_bytes bytes), ${BENCH_BINARY:-$(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)}, $(nproc) cores"
if [ "${BENCH_SKIP:-}" != timed ]; then
  echo "timed: ${rounds} alternating rounds, wrk 16 connections ${seconds}s; ${rate} req/s for 5s"
  for ((round = 1; round <= rounds; round++)); do
    for row in "${rows[@]}"; do timed_round "$row"; done
  done
  off_cpu=$(cut -d' ' -f3 "$results/${rows[0]}.fixed" | median)
  printf '%-34s %9s %9s %8s %8s %10s %9s\n' setting req/s "off/this" "p50 µs" "p99 µs" "CPU µs/req" "RSS KB"
  for row in "${rows[@]}"; do
    rps=$(median <"$results/$row.rps")
    p50=$(cut -d' ' -f1 "$results/$row.fixed" | median)
    p99=$(cut -d' ' -f2 "$results/$row.fixed" | median)
    cpu=$(cut -d' ' -f3 "$results/$row.fixed" | median)
    rss=$(median <"$results/$row.rss")
    printf '%-34s %9.0f %9.2f %8s %8s %10s %9s\n' "${labels[row - 1]}" "$rps" \
      "$(awk -v a="$off_cpu" -v b="$cpu" 'BEGIN {print a / b}')" "$p50" "$p99" "$cpu" "$rss"
  done
  echo "(each round's req/s: $(for row in "${rows[@]}"; do tr '\n' ' ' <"$results/$row.rps"; echo -n '| '; done))"
fi

if [ "${BENCH_SKIP:-}" != callgrind ]; then
  echo
  echo "instructions per request under callgrind, ${count} requests, 4 connections"
  off=
  for row in "${rows[@]}"; do
    ir=$(instructions "$row" "$home")
    off=${off:-$ir}
    printf '%-34s %10s  off/this %.2f\n' "${labels[row - 1]}" "$ir" "$(awk -v a="$off" -v b="$ir" 'BEGIN {print a / b}')"
  done
  echo
  echo "POST /api/activities"
  for row in 1 6; do
    ir=$(instructions "$row" "$activities" "$activity")
    start_backend "$row"
    line=$($load rate "$activities" 1000 5 "$backend" "$activity")
    stop_backend
    printf '%-34s %10s instructions/request   %s\n' "${labels[row - 1]}" "$ir" "${line#*  }"
  done
fi
rm -rf "$results"
