#!/usr/bin/env bash
# End to end (publish → receiver got it) for SQLite and Postgres on the database queue and for
# Postgres with RabbitMQ (BENCH_AMQP_URL), with 1 and 10 endpoints per application, a receiver that answers 200 at once (run by herald-bench),
# at full speed and at 200 messages/s. Prints Markdown rows for BENCHMARKS.md.
#   bench/e2e.sh [messages]     (needs: cargo build --release --workspace --bins)
#   BENCH_TRACING=1 bench/e2e.sh   (traces exported to a collector that discards them)
#   BENCH_POSTGRES_PARAMS='?sslmode=disable' …   (appended to Herald's Postgres URL)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
messages=${1:-2000}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
amqp=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
backends=${BENCH_BACKENDS:-sqlite postgres postgres+rabbitmq}
db=herald_e2e_$$
# shellcheck source=bench/setup.sh
. "$root/bench/setup.sh"
# shellcheck source=bench/tracing.sh
. "$root/bench/tracing.sh"
start_collector
export HERALD_LOG_LEVEL=warn HERALD_DELIVERY_ALLOWED_CIDRS='["127.0.0.0/8"]' HERALD_WORKER_CONCURRENCY=64


echo "| backend | run | throughput | p50 | p90 | p99 | notes |"
echo "|---|---|---|---|---|---|---|"
for backend in $backends; do
  start_formation "$backend"
  # The steady rate first, before a burst leaves the database with a backlog to vacuum.
  for run in "1 200" "1 0" "10 0"; do
    set -- $run
    printf '| %s ' "$backend"
    "$bin/herald-bench" e2e --url "http://127.0.0.1:$web_port" --token "$token" \
      --endpoints "$1" --messages "$( [ "$2" = 0 ] && echo "$messages" || echo 1000 )" --rate "$2"
  done
  stop_formation
done
