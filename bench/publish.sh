#!/usr/bin/env bash
# Publish throughput: `POST /api/v1/app/{app}/msg` on Postgres at 64 concurrent clients, and in
# the same run the ceiling: a raw single-row insert of the same payload into Postgres with pgbench
# at the same concurrency. Prints Markdown rows for BENCHMARKS.md.
#   bench/publish.sh [seconds]        (needs a release build: cargo build --release --workspace --bins,
#                                      or BENCH_BIN_DIR naming a directory of release binaries)
#   BENCH_SCHEMA=1 bench/publish.sh   (the event type published enforces a schema: its cost)
#   BENCH_TRACING=1 bench/publish.sh  (traces exported to a collector that discards them)
#   BENCH_POSTGRES_PARAMS='?sslmode=disable' …   (appended to Herald's Postgres URL)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
clients=${BENCH_CLIENTS:-64}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# BENCH_BIN_DIR runs other binaries (another build, to compare two versions on one machine).
bin=${BENCH_BIN_DIR:-$target/release}
db="herald_bench_$$"
psql -q "$pg/postgres" -c "CREATE DATABASE $db"
cleanup() {
  [ -n "${collector:-}" ] && kill "$collector" 2>/dev/null
  [ -n "${web:-}" ] && kill "$web" 2>/dev/null && wait "$web" 2>/dev/null
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
# shellcheck source=bench/tracing.sh
. "$root/bench/tracing.sh"
start_collector

export HERALD_DATABASE_URL="$pg/$db${BENCH_POSTGRES_PARAMS:-}"
export HERALD_SECRETS_KEYS='["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]'
export HERALD_LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}"
"$bin/herald-admin" migrate up >/dev/null 2>&1
token=$("$bin/herald-admin" token create --org bench 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/herald-web" --host 127.0.0.1 --port "$port" >/dev/null &
web=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$port/api/v1/app" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"bench","uid":"bench"}' >/dev/null
if [ -n "${BENCH_SCHEMA:-}" ]; then
  # The cost of an enforced schema: the event type the benchmark publishes requires its payload
  # to match (it does).
  curl -sf -X POST "http://127.0.0.1:$port/api/v1/event-type" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"name":"bench.event","description":"bench","enforceSchema":true,
      "schemas":{"1":{"type":"object","required":["client","n","fill"],"additionalProperties":false,
      "properties":{"client":{"type":"integer","minimum":0},"n":{"type":"integer","minimum":0},
      "fill":{"type":"string","maxLength":1000,"pattern":"^x*$"}}}}}' >/dev/null
fi

echo "| what | throughput | p50 | p99 | failures |"
echo "|---|---|---|---|---|"
"$bin/herald-bench" publish --url "http://127.0.0.1:$port" --token "$token" --app bench \
  --concurrency "$clients" --seconds "$seconds"
kill "$web"; wait "$web" 2>/dev/null || true; web=

# The ceiling: the same row, inserted directly, as many clients at once.
psql -q "$pg/$db" -c "CREATE TABLE ceiling (LIKE message INCLUDING ALL)"
script=$(mktemp)
cat > "$script" <<'SQL'
INSERT INTO ceiling (id, app_id, org_id, event_type, payload, created_at, expires_at)
VALUES ('msg_' || md5(random()::text || clock_timestamp()::text), 'app_bench', 'bench', 'bench.event',
        '{"client":1,"n":1,"fill":"' || repeat('x', 216) || '"}', now(), now() + interval '90 days');
SQL
tps=$(pgbench -n -c "$clients" -j 2 -T "$seconds" -f "$script" "$pg/$db" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
lat=$(pgbench -n -c "$clients" -j 2 -T 5 -f "$script" "$pg/$db" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\).*/\1/p')
rm -f "$script"
printf '| raw INSERT via pgbench, %s clients | %.0f rows/s | %s ms (avg) | – | – |\n' "$clients" "$tps" "$lat"
