#!/usr/bin/env bash
# Requests/s of POST /api/activities and GET /api/activities/home with 100,000 cruds stored, on
# SQLite and on PostgreSQL, telemetry on (OTLP export to a local sink, X-Ray with its default
# sampling to a local UDP sink), the write budget raised out of the way. PostgreSQL is a
# throwaway cluster in a temporary directory (Debian's, as scripts/setup.sh installs it).
# Usage: bash bench/database.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-32}
cruds=100000

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cargo build --release -q -p backend --bin backend --example telemetry_sink

port=47567
sink_port=47318
pg_port=47432
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/pg/postmaster.pid" ] && as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

./target/release/examples/telemetry_sink "$sink_port" 2>/dev/null &
pids+=($!)

cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"message": "a crud from the bench", "ttl": "7-days"}'
EOF

# Starts the backend on the database its arguments name, until /api/health answers.
start_backend() {
  env "$@" PORT=$port RUST_LOG=warn CRUDDUR_WRITE_BUDGET=1000000000 CRUDDUR_READ_BUDGET=1000000000 CRUDDUR_SEARCH_BUDGET=1000000000 \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" \
    AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$sink_port" CRUDDUR_LOCAL_TRACES=off \
    ./target/release/backend 2>>"$work/backend.log" &
  backend=$!
  until curl -sf "http://127.0.0.1:$port/api/health" >/dev/null; do sleep 0.1; done
}

stop_backend() {
  kill -TERM "$backend" && wait "$backend" || true
}

rps() {
  wrk -t1 -c"$connections" -d"${duration}s" "$@" | awk '/Requests\/sec/ {print $2}'
}

measure() {
  local label=$1
  wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$port/api/activities/home" >/dev/null
  local home post
  home=$(rps "http://127.0.0.1:$port/api/activities/home")
  post=$(rps -s "$work/post.lua" "http://127.0.0.1:$port/api/activities")
  printf '%-12s GET /api/activities/home %9s req/s   POST /api/activities %9s req/s\n' \
    "$label" "$home" "$post"
}

now_micros=$(($(date +%s) * 1000000))

echo "$cruds cruds stored, wrk ${connections} connections, ${duration}s per run, $(nproc) cores, telemetry on"

# SQLite: the backend creates the file and its schema, then the cruds go in at once.
start_backend CRUDDUR_DATA_DIR="$work/sqlite"
stop_backend
sqlite3 "$work/sqlite/cruddur.db" <<EOF
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $cruds)
INSERT INTO activities (uuid, user_handle, message, created_at, expires_at)
SELECT printf('00000000-0000-4000-8000-%012x', i), 'worf', 'bench crud ' || i,
       $now_micros - i * 1000000, $now_micros + 604800000000
FROM n;
EOF
start_backend CRUDDUR_DATA_DIR="$work/sqlite"
measure "SQLite"
stop_backend

# PostgreSQL: a throwaway cluster, durable as a real one (fsync on).
mkdir -p "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work" "$work/pg"
as_postgres "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -h 127.0.0.1 -c max_connections=100" start >/dev/null
url="postgres://postgres@127.0.0.1:$pg_port/postgres"
start_backend DATABASE_URL="$url"
stop_backend
"$pg_bin/psql" -q -v ON_ERROR_STOP=1 "$url" <<EOF
INSERT INTO activities (uuid, user_handle, message, created_at, expires_at)
SELECT format('00000000-0000-4000-8000-%s', lpad(to_hex(i), 12, '0')), 'worf', 'bench crud ' || i,
       $now_micros - i * 1000000, $now_micros + 604800000000
FROM generate_series(1::bigint, $cruds) AS i;
ANALYZE;
EOF
start_backend DATABASE_URL="$url"
measure "PostgreSQL"
stop_backend
