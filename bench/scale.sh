#!/usr/bin/env bash
# Many instances behind a proxy, and a rolling restart under load that loses nothing
# (docs/performance.md, docs/deployment.md). On loopback only, it starts:
# - a throwaway PostgreSQL cluster (Debian's, as scripts/setup.sh installs it), fsync on;
# - INSTANCES release backends, each on its own port, started at once on the empty database,
#   trusting only the proxy's address for X-Forwarded-For;
# - Debian's nginx in front, balancing /api and /v1/traces across them, setting
#   X-Forwarded-For to the client's address and capping each client across them (limit_req);
# - the Rust sink for OTLP and X-Ray's UDP (backend/examples/telemetry_sink.rs), keeping the
#   trace id of every SERVER span it receives.
# The load (backend/examples/scale_load.rs): CLIENTS clients, each from its own loopback
# address, RATE requests a second in all for SECONDS: 90% reads across every page, 10% cruds,
# replies and messages, a quarter with a traceparent. Meanwhile each instance is restarted in
# turn as a load balancer with health checks does it: SIGTERM; the instance answers not ready
# at once and serves on for its drain delay; the proxy, seeing it not ready, takes it out and
# reloads; the instance exits; it starts again, and once ready the proxy takes it back.
# Then it asserts, and exits 1 when one fails:
# - no failed request: no 5xx and no connection error seen by any client (nor a 4xx);
# - no lost write: every write answered 2xx is read back from every instance, directly;
# - every answered request's server span reached the sink, and every traceparent's trace id;
# and reports the latency during the restarts against the steady state, and what one write's
# budget statement costs PostgreSQL (pg_stat_statements' mean, beside a crud's INSERT).
# Usage: bash bench/scale.sh [instances, default 4] [seconds, default 240] [clients, default 200]
#        [requests/s in all, default 200]
# SCALE_PROFILE=dev runs the debug build (scripts/test.sh: the tests built it already).
set -euo pipefail
cd "$(dirname "$0")/.."
instances=${1:-4}
seconds=${2:-240}
clients=${3:-200}
rate=${4:-200}
# Longer than the readiness poll below plus nginx's reload.
drain_delay=3

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
profile=${SCALE_PROFILE:-release}
cargo build --profile "$profile" -q --locked -p backend --bin backend --example telemetry_sink --example scale_load
binaries=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")
backend_bin=$binaries/backend
load=$binaries/examples/scale_load

proxy_port=48080
backend_port=48100
sink_port=48318
pg_port=48432
work=$(mktemp -d)
# nginx's workers run as nobody when this runs as root, and reach its temporary paths here.
chmod 755 "$work"
declare -A backend_pids=()
pids=()
cleanup() {
  for pid in "${backend_pids[@]}" "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/pg/postmaster.pid" ] && as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

# PostgreSQL refuses to run as root.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}
mkdir -p "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/pg"
as_postgres "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -h 127.0.0.1 -c max_connections=100 \
      -c shared_preload_libraries=pg_stat_statements" start >/dev/null
url="postgres://postgres@127.0.0.1:$pg_port/postgres"
"$pg_bin/psql" -q "$url" -c "CREATE EXTENSION pg_stat_statements"

"$binaries/examples/telemetry_sink" "$sink_port" "$work/spans.txt" >"$work/sink.out" 2>&1 &
sink=$!
pids+=("$sink")

backend_url() { echo "http://127.0.0.1:$((backend_port + $1))"; }
start_backend() {
  local n=$1
  env DATABASE_URL="$url" PORT=$((backend_port + n)) CRUDDUR_BIND=127.0.0.1 \
    CRUDDUR_TRUSTED_PROXIES=127.0.0.1/32 CRUDDUR_DRAIN_DELAY=$drain_delay \
    CRUDDUR_LOCAL_TRACES=off OTEL_SERVICE_NAME=cruddur-backend-$n \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" \
    AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$sink_port" RUST_LOG=warn \
    "$backend_bin" >>"$work/backend-$n.log" 2>&1 &
  backend_pids[$n]=$!
}
wait_ready() { until curl -sf "$(backend_url "$1")/api/health/ready" >/dev/null; do sleep 0.1; done; }

# The proxy: the instances named in $down are out of the upstream, as a load balancer takes
# out a target its health check finds not ready.
down=
write_nginx_config() {
  local n kind
  mkdir -p "$work/nginx/tmp"
  {
    echo "daemon off; worker_processes 1; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log off;"
    for kind in client_body proxy fastcgi uwsgi scgi; do echo "  ${kind}_temp_path $work/nginx/tmp/$kind;"; done
    # Each client's requests across every instance: the backends' read budgets are each their own.
    echo "  limit_req_zone \$binary_remote_addr zone=clients:10m rate=20r/s;"
    echo "  upstream backends {"
    for ((n = 0; n < instances; n++)); do
      echo "    server 127.0.0.1:$((backend_port + n))$([[ " $down " == *" $n "* ]] && echo " down");"
    done
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$proxy_port;"
    echo "    location ~ ^/(api/|v1/traces\$) {"
    echo "      limit_req zone=clients burst=40 nodelay;"
    echo "      proxy_pass http://backends;"
    echo "      proxy_set_header X-Forwarded-For \$remote_addr;"
    # Passive failover: what was not sent (a refused connection), and any GET, goes to the
    # next instance; a POST already sent never does, so no write is made twice.
    echo "      proxy_next_upstream error timeout http_503;"
    echo "      proxy_next_upstream_tries 3;"
    echo "    }"
    echo "  }"
    echo "}"
  } >"$work/nginx/nginx.conf"
}
reload_nginx() {
  write_nginx_config
  /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s reload 2>>"$work/nginx/error.log"
}

# Every instance at once, on the empty database: the migrations and seed data run once.
for ((n = 0; n < instances; n++)); do start_backend "$n"; done
for ((n = 0; n < instances; n++)); do wait_ready "$n"; done
write_nginx_config
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=($!)
until curl -sf "http://127.0.0.1:$proxy_port/api/health/ready" >/dev/null; do sleep 0.1; done
echo "$instances instances behind nginx on :$proxy_port, $(nproc) cores, $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)"

"$load" run "http://127.0.0.1:$proxy_port" "$clients" "$rate" "$seconds" "$work" &
load_pid=$!
started=$(now_ms)
# Steady state first, then the restarts spread over the middle of the run.
warm=$((seconds / 5))
pause=$(((seconds * 3 / 5) / instances))
sleep "$warm"
: >"$work/restarts"
for ((n = 0; n < instances; n++)); do
  from=$(now_ms)
  kill -TERM "${backend_pids[$n]}"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$(backend_url "$n")/api/health/ready")" != 200 ]; do sleep 0.1; done
  down="$n"
  reload_nginx
  wait "${backend_pids[$n]}" || { echo "instance $n exited with $?" >&2; exit 1; }
  start_backend "$n"
  wait_ready "$n"
  down=
  reload_nginx
  echo "$from $(now_ms)" >>"$work/restarts"
  echo "restarted instance $n in $(($(now_ms) - from)) ms"
  sleep "$((pause > 0 ? pause : 1))"
done
wait "$load_pid"
echo "load ran $(($(now_ms) - started)) ms"

backends=()
for ((n = 0; n < instances; n++)); do backends+=("$(backend_url "$n")"); done
status=0
"$load" check "$work" "${backends[@]}" || status=1

"$pg_bin/psql" -qAt -F ' ' "$url" -c "SELECT 'statement time per write: budget ' || round((mean_exec_time * 1000)::numeric, 1) || ' µs mean over ' || calls || ' calls' FROM pg_stat_statements WHERE query LIKE 'INSERT INTO write_budgets%'"
"$pg_bin/psql" -qAt -F ' ' "$url" -c "SELECT 'statement time per write: the crud''s INSERT ' || round((mean_exec_time * 1000)::numeric, 1) || ' µs mean over ' || calls || ' calls' FROM pg_stat_statements WHERE query LIKE 'INSERT INTO activities%' ORDER BY calls DESC LIMIT 1"

# Every instance stops, flushing its spans; then the sink writes what it received.
for ((n = 0; n < instances; n++)); do kill -TERM "${backend_pids[$n]}"; done
for ((n = 0; n < instances; n++)); do wait "${backend_pids[$n]}" || status=1; done
backend_pids=()
kill -TERM "$sink" && wait "$sink" || true
cat "$work/sink.out"
"$load" report "$work" "$work/spans.txt" "$work/restarts" || status=1
if [ "$status" -ne 0 ]; then
  echo "== nginx's errors"; tail -20 "$work/nginx/error.log" || true
  for ((n = 0; n < instances; n++)); do echo "== backend $n"; tail -10 "$work/backend-$n.log" || true; done
fi
exit "$status"
