#!/usr/bin/env bash
# Latency at a steady, moderate rate: publish → receiver for SQLite and Postgres on the database
# queue and Postgres with RabbitMQ, one endpoint, a receiver that answers 200 at once (run by
# herald-bench), `rate` messages/s for `seconds`. Prints p50/p90/p99 per setup and where the time
# goes (herald_message_progress_seconds from web's and the worker's /metrics, before and after).
#   bench/latency.sh [rate] [seconds]     (needs: cargo build --release --workspace --bins)
#   BENCH_BACKENDS='postgres' …           (setups to run; default: sqlite postgres postgres+rabbitmq)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-200}
seconds=${2:-30}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
amqp=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
backends=${BENCH_BACKENDS:-sqlite postgres postgres+rabbitmq}
db=herald_latency_$$
# shellcheck source=bench/setup.sh
. "$root/bench/setup.sh"
export HERALD_LOG_LEVEL=warn HERALD_DELIVERY_ALLOWED_CIDRS='["127.0.0.0/8"]' HERALD_WORKER_CONCURRENCY=64

scrape() { curl -sf "http://127.0.0.1:$web_port/metrics"; curl -sf "http://127.0.0.1:$worker_port/metrics"; }

for backend in $backends; do
  start_formation "$backend"
  # A short warm-up (connections opened, statements prepared), not counted.
  "$bin/herald-bench" e2e --url "http://127.0.0.1:$web_port" --token "$token" --endpoints 1 --messages 200 --rate "$rate" >/dev/null
  scrape > "$work/before"
  echo
  echo "### $backend, $rate msg/s for $seconds s"
  echo
  echo "| run | throughput | p50 | p90 | p99 | notes |"
  echo "|---|---|---|---|---|---|"
  "$bin/herald-bench" e2e --url "http://127.0.0.1:$web_port" --token "$token" --endpoints 1 \
    --messages $((rate * seconds)) --rate "$rate"
  sleep 1 # the last outcomes stored
  scrape > "$work/after"
  echo
  python3 "$root/bench/stages.py" "$work/before" "$work/after"
  stop_formation
done
