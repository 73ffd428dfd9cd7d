#!/usr/bin/env bash
# Whether pages stay flat as the database grows: p50 and p99 latency of each page at a small and
# a large number of cruds, on SQLite and on PostgreSQL, telemetry off, the release backend.
#
# Each database is seeded in bulk by SQL (not through the API): the cruds, 10,000 users, one
# crud with 100,000 replies, 10 conversations of 10,000 messages each; only the number of cruds
# changes between the sizes. Both sizes are served at once, one backend each, and `wrk --latency`
# at the given connections measures each page at each size in turn, round after round (the
# machine's load changes from one minute to the next), for the given seconds after a 1 s warm-up;
# the table has each size's median p50 and p99 over the rounds, and the ratio of the largest
# size's p99 to the smallest's. PostgreSQL is a throwaway cluster in a temporary directory
# (Debian's, as scripts/setup.sh installs it), one database per size. Everything is deleted at
# the end.
#
# Usage: bash bench/database.sh [seconds per page, default 5] [rounds, default 3] [connections, default 32]
#   BENCH_CRUDS="1000 1000000" the sizes (default); BENCH_DATABASES="sqlite postgres" which
#   databases (default both); BENCH_DIR=dir where the databases go (default a new temporary
#   directory; they take about 3 GB at a million cruds).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
rounds=${2:-3}
connections=${3:-32}
sizes=${BENCH_CRUDS:-1000 1000000}
databases=${BENCH_DATABASES:-sqlite postgres}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cargo build --release -q -p backend --bin backend
target=${CARGO_TARGET_DIR:-target}

# Ports of their own, so that benches run at once on one machine never meet.
port=$((20000 + RANDOM % 10000))
pg_port=$((30000 + RANDOM % 10000))
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cruddur-bench.XXXXXX")
# A copy of its own: a build in the same target directory meanwhile changes nothing here.
cp "$target/release/backend" "$work/backend"
backends=()
cleanup() {
  for pid in "${backends[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/pg/postmaster.pid" ] && as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# Starts a backend on port $1 and the database the other arguments name, until /api/health
# answers.
start_backend() {
  local on=$1
  shift
  env "$@" PORT="$on" RUST_LOG=warn CRUDDUR_SEED_DATA=off \
    CRUDDUR_WRITE_BUDGET=1000000000 CRUDDUR_READ_BUDGET=1000000000 CRUDDUR_SEARCH_BUDGET=1000000000 \
    OTEL_SDK_DISABLED=true AWS_XRAY_SDK_ENABLED=false CRUDDUR_LOCAL_TRACES=off \
    "$work/backend" 2>>"$work/backend.log" &
  backends+=($!)
  until curl -sf "http://127.0.0.1:$on/api/health" >/dev/null; do sleep 0.1; done
}

stop_backends() {
  for pid in "${backends[@]}"; do kill -TERM "$pid" && wait "$pid" || true; done
  backends=()
}

now=$(($(date +%s) * 1000000))
second=1000000
month=$((30 * 86400 * second))
popular=7 # the crud with 100,000 replies: the seventh newest, on the home page
# The home feed's page after the first, which is read each time (the first is kept).
second_page="$((now - 50 * second))_00000000-0000-4000-8000-$(printf '%012x' 50)"
# The deepest page of the popular crud's replies: those older than its 51st oldest.
deepest="$((now - popular * second + 51 * 1000))_00000000-0000-4000-9000-$(printf '%012x' 51)"

# The seed, in the SQL of database $1 (sqlite or postgres), with $2 cruds. Crud i (1 the newest)
# is i seconds old, by worf every 20th (a user's feed), a notification for andrewbrown every
# 20th, every 10th has 2 replies; "crud" is in every message, "quasar" in three.
seed_sql() {
  local dialect=$1 cruds=$2
  # series N NAME: the numbers 1 to N, as a table named NAME_series of one column, NAME.
  if [ "$dialect" = sqlite ]; then
    hex() { echo "printf('%012x', $1)"; }
    series() { echo "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) SELECT n AS $2 FROM s) AS $2_series"; }
    echo "PRAGMA synchronous = OFF;"
  else
    hex() { echo "lpad(to_hex($1), 12, '0')"; }
    series() { echo "generate_series(1::bigint, $1) AS $2_series($2)"; }
    # Triggers off while seeding (the reply counts are set once, below): 100,000 updates of
    # one crud's count in one transaction leave a chain of 100,000 versions of its row.
    echo "SET session_replication_role = replica;"
  fi
  cat <<EOF
INSERT INTO users (handle, display_name)
SELECT 'user' || u, 'User ' || u FROM $(series 10000 u);
INSERT INTO activities (uuid, user_handle, message, message_folded, created_at, expires_at)
SELECT '00000000-0000-4000-8000-' || $(hex i),
       CASE WHEN i % 20 = 0 THEN 'worf' ELSE 'user' || (i % 10000 + 1) END,
       'Bench crud number ' || i || CASE WHEN i % ($cruds / 3) = 0 THEN ' of the quasar' ELSE '' END,
       'bench crud number ' || i || CASE WHEN i % ($cruds / 3) = 0 THEN ' of the quasar' ELSE '' END,
       $now - i * $second, $now + $month
FROM $(series "$cruds" i);
INSERT INTO notifications (activity_uuid, user_handle, created_at)
SELECT '00000000-0000-4000-8000-' || $(hex i), 'andrewbrown', $now - i * $second
FROM $(series "$cruds" i) WHERE i % 20 = 10;
INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at)
SELECT '00000000-0000-4000-9000-' || $(hex r), '00000000-0000-4000-8000-' || $(hex $popular),
       'user' || (r % 10000 + 1), 'Bench reply ' || r, $now - $popular * $second + r * 1000
FROM $(series 100000 r);
INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at)
SELECT '00000000-0000-4000-a000-' || $(hex "i * 2 + k"), '00000000-0000-4000-8000-' || $(hex i),
       'user' || (i % 10000 + 1), 'A reply', $now - i * $second + k
FROM $(series "$cruds" i) CROSS JOIN $(series 2 k)
WHERE i % 10 = 0;
INSERT INTO conversations (uuid, first_handle, second_handle, last_message_at)
SELECT '00000000-0000-4000-b000-' || $(hex c), 'andrewbrown', 'user' || c, $now FROM $(series 10 c);
INSERT INTO messages (uuid, conversation_uuid, sender_handle, message, created_at)
SELECT '00000000-0000-4000-c000-' || $(hex "c * 100000 + m"), '00000000-0000-4000-b000-' || $(hex c),
       CASE WHEN m % 2 = 0 THEN 'andrewbrown' ELSE 'user' || c END, 'Bench message ' || m,
       $now - m * 1000
FROM $(series 10 c) CROSS JOIN $(series 10000 m);
EOF
  if [ "$dialect" = postgres ]; then
    cat <<EOF
UPDATE activities a SET replies_count = counted.replies
FROM (SELECT activity_uuid, COUNT(*) AS replies FROM replies GROUP BY activity_uuid) counted
WHERE a.uuid = counted.activity_uuid;
VACUUM ANALYZE;
EOF
  fi
  return 0
}

# "p50 p99 errors" of the page at $2 on port $1, in milliseconds.
latency() {
  wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$1$2" >/dev/null
  wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$1$2" | awk '
    function ms(value) {
      if (value ~ /us$/) return value / 1000
      if (value ~ /ms$/) return value + 0
      return value * 1000
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { errors += $5 }
    /Socket errors/ { split($0, parts, "timeout "); errors += parts[2] }
    END { printf "%.2f %.2f %d\n", p50, p99, errors }'
}

median() { sort -n | awk '{ values[NR] = $1 } END { print values[int((NR + 1) / 2)] }'; }

# Each page at each size in turn, round after round; one row per page and size.
pages() {
  local label path size round i first_p99
  local -a ports=("$@")
  while IFS='|' read -r label path; do
    declare -A p50s=() p99s=() errors=()
    for round in $(seq "$rounds"); do
      i=0
      for size in $sizes; do
        read -r p50 p99 failed < <(latency "${ports[$i]}" "$path")
        p50s[$size]+="$p50 "
        p99s[$size]+="$p99 "
        errors[$size]=$((${errors[$size]:-0} + failed))
        i=$((i + 1))
      done
    done
    first_p99=
    for size in $sizes; do
      p50=$(tr ' ' '\n' <<<"${p50s[$size]}" | grep . | median)
      p99=$(tr ' ' '\n' <<<"${p99s[$size]}" | grep . | median)
      first_p99=${first_p99:-$p99}
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$database" "$label" "$size" "$p50" "$p99" \
        "$(awk -v a="$p99" -v b="$first_p99" 'BEGIN { printf "%.2f", a / b }')" "${p99s[$size]% }" "${errors[$size]}"
    done
  done <<EOF
home feed|/api/activities/home
the home feed's second page|/api/activities/home?before=$second_page
a user's feed (@worf)|/api/activities/@worf
notifications|/api/activities/notifications
the crud with 100,000 replies|/api/activities/00000000-0000-4000-8000-$(printf '%012x' $popular)
its deepest page of replies|/api/activities/00000000-0000-4000-8000-$(printf '%012x' $popular)/replies?before=$deepest
conversations|/api/message_groups
a conversation of 10,000 messages|/api/messages/@user1
search, a rare word (quasar)|/api/activities/search?term=quasar
search, a common word (crud)|/api/activities/search?term=crud
EOF
}

echo "wrk ${connections} connections, ${duration}s per page and size, ${rounds} rounds, $(nproc) cores, telemetry off"
echo "| database | page | cruds | p50 ms | p99 ms | p99 / smallest's | each round's p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for database in $databases; do
  ports=()
  seeded=()
  i=0
  if [ "$database" = postgres ]; then
    # A throwaway cluster, durable as a real one (fsync on).
    mkdir -p "$work/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$work" "$work/pg"
    as_postgres "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 >/dev/null
    as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
      -o "-p $pg_port -k $work/pg -h 127.0.0.1 -c max_connections=100" start >/dev/null
  fi
  for size in $sizes; do
    # The backend creates the schema, then the seed goes in at once.
    on=$((port + i))
    started=$(date +%s)
    if [ "$database" = sqlite ]; then
      data="$work/sqlite-$size"
      start_backend "$on" CRUDDUR_DATA_DIR="$data"
      stop_backends
      seed_sql sqlite "$size" | sqlite3 "$data/cruddur.db"
      where=(CRUDDUR_DATA_DIR="$data")
    else
      url="postgres://postgres@127.0.0.1:$pg_port/cruddur_$size"
      "$pg_bin/psql" -q "postgres://postgres@127.0.0.1:$pg_port/postgres" -c "CREATE DATABASE cruddur_$size"
      start_backend "$on" DATABASE_URL="$url"
      stop_backends
      seed_sql postgres "$size" | "$pg_bin/psql" -q -v ON_ERROR_STOP=1 "$url"
      where=(DATABASE_URL="$url")
    fi
    echo "$database seeded with $size cruds in $(($(date +%s) - started)) s" >&2
    seeded+=("${where[*]}")
    ports+=("$on")
    i=$((i + 1))
  done
  du -sh "$work" >&2
  i=0
  for size in $sizes; do
    start_backend "${ports[$i]}" "${seeded[$i]}"
    i=$((i + 1))
  done
  pages "${ports[@]}"
  stop_backends
  if [ "$database" = postgres ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null
  fi
  rm -rf "$work/pg" "$work"/sqlite-*
done
