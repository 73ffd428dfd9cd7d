#!/usr/bin/env bash
# Cruddur against the stack it replaces (docs/performance.md, "Against the seeds' Flask stack"):
# the bootcamp's week-2 Flask backend (bench/flask/app.py: OpenTelemetry's Flask and requests
# instrumentation, BatchSpanProcessor + OTLP/HTTP, the custom span, X-Ray's middleware),
# served as the bootcamp serves it (`python3 -m flask run`, the threaded development server),
# with and without its instrumentation, and the release backend with full telemetry (OTLP +
# X-Ray at the default sampling) and with telemetry off. The four alternate, ROUNDS rounds,
# each `wrk -t1 -c16` for SECONDS on GET /api/activities/home after a 2 s warm-up; every one
# sends its spans to a fresh Rust sink (backend/examples/telemetry_sink.rs) on loopback, which
# says what it received once the server has stopped (the Flask app exports what is queued on
# SIGTERM, the backend on shutdown).
# It prints each setting's median requests/s and CPU time per request (the server's user +
# system time from /proc over the run: less swayed by other work on a shared machine), with
# OTLP bytes and X-Ray datagrams per request, so that an exporter sending nothing shows; each
# round's requests/s; and the ratios: the Flask stack instrumented / uninstrumented, Cruddur
# full / off, Cruddur full / Flask instrumented. It stops if the instrumented Flask app
# exported nothing, or logged a failed export or a dropped span.
# BENCH_PAGE=full measures a full home page (bench/full-page.sh): Cruddur fills its SQLite file
# through its API first, and the Flask app reads that file with the same two statements
# through Python's sqlite3 (CRUDDUR_BENCH_DATABASE in bench/flask/app.py), served by gunicorn
# with 2 workers (one a core) rather than the development server; CPU time is then the sum of
# its processes'.
# Usage: bash bench/flask.sh [seconds per run, default 10] [rounds, default 3]
# The app's Python packages (bench/flask/requirements.txt) go into a venv kept at
# ~/.cache/cruddur-bench/flask-venv, installed again only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-3}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
venv=$HOME/.cache/cruddur-bench/flask-venv
[ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
if ! cmp -s bench/flask/requirements.txt "$venv/installed-requirements.txt"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r bench/flask/requirements.txt
  cp bench/flask/requirements.txt "$venv/installed-requirements.txt"
fi
cargo build --release -q -p backend --bin backend --example telemetry_sink

port=47570
sink_port=47320
sink_url="http://127.0.0.1:$sink_port"
home="http://127.0.0.1:$port/api/activities/home"
sink=
server=
work=$(mktemp -d)
trap 'kill ${server:+$server} ${sink:+$sink} 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/data"

labels=(
  "Flask, instrumented"
  "Flask, uninstrumented"
  "Cruddur, full telemetry"
  "Cruddur, telemetry off"
)
# What both stacks share: the sink as X-Ray daemon, and the seeds' dynamic naming pattern.
common=(AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$sink_port" AWS_XRAY_URL="*127.0.0.1*" AWS_EC2_METADATA_DISABLED=true)
flask_env=(OTEL_EXPORTER_OTLP_ENDPOINT="$sink_url" OTEL_SERVICE_NAME=backend-flask)
backend_env=(CRUDDUR_DATA_DIR="$work/data" CRUDDUR_WRITE_BUDGET=1000000000 CRUDDUR_READ_BUDGET=1000000000 CRUDDUR_SEARCH_BUDGET=1000000000 CRUDDUR_LOCAL_TRACES=off RUST_LOG=warn PORT="$port")
settings=(
  "CRUDDUR_BENCH_TELEMETRY=on"
  "CRUDDUR_BENCH_TELEMETRY=off"
  "OTEL_EXPORTER_OTLP_ENDPOINT=$sink_url"
  "OTEL_SDK_DISABLED=true AWS_XRAY_SDK_ENABLED=false"
)

# alive: waits a moment for the server, or stops the bench if it has exited (a port in use).
alive() {
  kill -0 "$server" 2>/dev/null || { echo "the server exited before answering (is port $port in use?)" >&2; exit 1; }
  sleep 0.2
}

# start ROW: the row's server, once it answers, with a fresh sink beside it.
start() {
  local row=$1
  ./target/release/examples/telemetry_sink "$sink_port" >"$work/sink" 2>&1 &
  sink=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null; do sleep 0.1; done
  if [ "$row" -le 2 ]; then
    # shellcheck disable=SC2086 # the settings are words on purpose
    (cd bench/flask && exec env "${common[@]}" "${flask_env[@]}" ${settings[row - 1]} \
      "${flask_server[@]}") >"$work/flask.log" 2>&1 &
    server=$!
    until curl -sf -o /dev/null "$home"; do alive; done
  else
    # shellcheck disable=SC2086 # the settings are words on purpose
    env "${common[@]}" "${backend_env[@]}" ${settings[row - 1]} ./target/release/backend >/dev/null 2>&1 &
    server=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/api/health"; do alive; done
  fi
}

# stop: the server, then the sink, whose count of what it received is in $work/sink.
stop() {
  kill -TERM "$server"; wait "$server" || true
  server=
  kill -TERM "$sink"; wait "$sink" || true
  sink=
}

# cpu_ticks: the server's user + system time so far, with its worker processes', in clock
# ticks (100 a second).
cpu_ticks() {
  local pid ticks=0
  for pid in "$server" $(pgrep -P "$server" || true); do
    ticks=$((ticks + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$ticks"
}
# requests WRK_OUTPUT: how many requests wrk made.
requests() { awk '/requests in/ {print $1}' "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }

round() {
  local row=$1
  start "$row"
  wrk -t1 -c16 -d2s "$home" >"$work/warmup"
  local before
  before=$(cpu_ticks)
  wrk -t1 -c16 -d"${seconds}s" "$home" >"$work/run"
  awk -v t="$(($(cpu_ticks) - before))" -v n="$(requests "$work/run")" 'BEGIN {printf "%.0f\n", t * 10000 / n}' >>"$work/$row.cpu"
  stop
  awk '/Requests\/sec/ {print $2}' "$work/run" >>"$work/$row.rps"
  if grep -q 'Non-2xx' "$work/run"; then
    echo "wrk saw error answers from ${labels[row - 1]}:" >&2
    cat "$work/run" >&2
    exit 1
  fi
  local made exports bytes undecodable datagrams
  made=$(($(requests "$work/warmup") + $(requests "$work/run")))
  read -r exports bytes undecodable datagrams < <(sed -E 's/sink received ([0-9]+) OTLP exports \(([0-9]+) bytes, ([0-9]+) undecodable\) and ([0-9]+) X-Ray.*/\1 \2 \3 \4/' "$work/sink")
  if ! [[ "$exports $bytes $undecodable $datagrams" =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]]; then
    echo "cannot read the sink's report: $(cat "$work/sink")" >&2
    exit 1
  fi
  if [ "$undecodable" -ne 0 ]; then
    echo "${labels[row - 1]} sent $undecodable exports the sink could not decode" >&2
    exit 1
  fi
  awk -v b="$bytes" -v d="$datagrams" -v n="$made" 'BEGIN {printf "%.0f %.3f\n", b / n, d / n}' >>"$work/$row.exported"
  if [ "$row" -eq 1 ]; then
    # The instrumented app must pay for what it claims: its exports reach the sink, and none
    # fail or drop spans (an exporter that fails costs less than one that sends).
    if [ "$exports" -eq 0 ] || grep -iE 'export|dropping|queue full' "$work/flask.log" >&2; then
      echo "the instrumented Flask app did not export all its spans ($exports exports); its log:" >&2
      grep -v '"GET /api/activities/home' "$work/flask.log" >&2 || true
      exit 1
    fi
  fi
}

if [ "${BENCH_PAGE:-}" = full ]; then
  # shellcheck source=bench/full-page.sh
  . bench/full-page.sh
  start 4
  fill_full_page "http://127.0.0.1:$port"
  stop
  flask_env+=(CRUDDUR_BENCH_DATABASE="$work/data/cruddur.db")
  flask_server=("$venv/bin/gunicorn" --workers 2 --bind "127.0.0.1:$port" app:app)
else
  flask_server=("$venv/bin/python3" -m flask --app app run --port "$port")
fi
echo "GET /api/activities/home (${BENCH_PAGE:-seed} page), $(nproc) cores, $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)," \
  "$("$venv/bin/python3" --version), Flask $("$venv/bin/python3" -c 'import importlib.metadata as m; print(m.version("flask"))')"
echo "${rounds} alternating rounds, wrk -t1 -c16 ${seconds}s after a 2 s warm-up"
for ((round = 1; round <= rounds; round++)); do
  for row in 1 2 3 4; do round "$row"; done
done

printf '%-26s %9s %11s %15s %20s   %s\n' setting "req/s" "CPU µs/req" "OTLP bytes/req" "X-Ray datagrams/req" "each round's req/s"
for row in 1 2 3 4; do
  printf '%-26s %9.0f %11s %15s %20s   %s\n' "${labels[row - 1]}" "$(median <"$work/$row.rps")" "$(median <"$work/$row.cpu")" \
    "$(cut -d' ' -f1 "$work/$row.exported" | median)" "$(cut -d' ' -f2 "$work/$row.exported" | median)" \
    "$(tr '\n' ' ' <"$work/$row.rps")"
done
# ratio A B: requests/s, A's over B's: the ratio of the medians, the median of each round's
# ratio; then the same of CPU time per request, B's over A's.
ratio() {
  local rps cpu
  rps=$(paste "$work/$1.rps" "$work/$2.rps" | awk '{print $1 / $2}' | median)
  cpu=$(paste "$work/$2.cpu" "$work/$1.cpu" | awk '{print $1 / $2}' | median)
  awk -v a="$(median <"$work/$1.rps")" -v b="$(median <"$work/$2.rps")" -v r="$rps" \
    -v ca="$(median <"$work/$1.cpu")" -v cb="$(median <"$work/$2.cpu")" -v c="$cpu" \
    'BEGIN {printf "%.2f (rounds: median %.2f); by CPU per request %.2f (rounds: median %.2f)\n", a / b, r, cb / ca, c}'
}
echo "Flask instrumented / uninstrumented: $(ratio 1 2)"
echo "Cruddur full / off:                  $(ratio 3 4)"
echo "Cruddur full / Flask instrumented:   $(ratio 3 1)"
