#!/usr/bin/env bash
# A steady state over time: Postgres, database queue, web and one worker, retention made short
# (messages 5 minutes, exhausted deliveries and response bodies 2 minutes, pruning every 30 s),
# `rate` messages/s to ten endpoints of which one always fails (retries 1 s, 5 s, 30 s, then
# exhausted). Prints herald-bench soak's line per minute (published, delivered, p50/p99), then a
# sample per minute of the database's size and row counts: both should level off, not grow.
#
#   bench/soak.sh [minutes] [rate]      (default 30 minutes at 100 messages/s; release binaries)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-30}
rate=${2:-100}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
db=herald_soak_$$
# shellcheck source=bench/setup.sh
. "$root/bench/setup.sh"
export HERALD_LOG_LEVEL=warn HERALD_DELIVERY_ALLOWED_CIDRS='["127.0.0.0/8"]'
export HERALD_RETENTION_MESSAGES=5m HERALD_RETENTION_EXHAUSTED_DELIVERIES=2m HERALD_RETENTION_RESPONSE_BODIES=2m
export HERALD_RETENTION_PRUNE_INTERVAL=30s HERALD_DELIVERY_RETRY_SCHEDULE='["1s", "5s", "30s"]'

psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export HERALD_DATABASE_URL="$pg/$db"
"$bin/herald-admin" migrate up >/dev/null 2>&1
token=$("$bin/herald-admin" token create --org bench 2>/dev/null)
web_port=$(free_port)
"$bin/herald-web" --host 127.0.0.1 --port "$web_port" >"$work/web.log" 2>&1 & pids+=($!)
HERALD_LOG_LEVEL=info "$bin/herald-worker" --host 127.0.0.1 --port "$(free_port)" >"$work/worker.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$web_port/health/ready" >/dev/null && break; sleep 0.1; done

sample() {
  echo "| minute | database size | messages | deliveries | attempts | dead tuples (delivery) |"
  echo "|---|---|---|---|---|---|"
  for m in $(seq "$minutes"); do
    sleep 60
    psql -Atq "$HERALD_DATABASE_URL" -F ' | ' -c "SELECT $m, pg_size_pretty(pg_database_size(current_database())),
      (SELECT count(*) FROM message), (SELECT count(*) FROM delivery), (SELECT count(*) FROM attempt),
      (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'delivery')" | sed 's/^/| /; s/$/ |/'
  done
}
sample > "$work/samples.md" & pids+=($!)
"$bin/herald-bench" soak --url "http://127.0.0.1:$web_port" --token "$token" --rate "$rate" --minutes "$minutes"
sleep 2
cat "$work/samples.md"
echo "pruned lines in the worker's log: $(grep -c '"msg":"pruned"' "$work/worker.log" || true); warnings: $(grep -c '"level":"WARN"' "$work/worker.log" || true)"
