# Shared by the bench scripts that run a formation (sourced, after `root`, `pg` and `db` are
# set): the binaries to run (BENCH_BIN_DIR, else the release build), a work directory, the
# processes started (`pids`), a cleanup on exit that stops them and drops database `db`, and
# `free_port`; `start_formation` and `stop_formation` for the scripts that run web and a worker.
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# BENCH_BIN_DIR runs other binaries (another build, to compare two versions on one machine).
bin=${BENCH_BIN_DIR:-$target/release}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}" ${collector:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HERALD_SECRETS_KEYS='["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]'
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts web and a worker for setup $1 (sqlite, postgres, or postgres+rabbitmq at `amqp`) on a
# fresh database, migrated, and waits until both are ready. Sets `token`, `web_port` and
# `worker_port`.
start_formation() {
  unset HERALD_QUEUE_URL HERALD_QUEUE_NAME
  if [ "$1" = sqlite ]; then
    rm -f "$work"/bench.db*
    export HERALD_DATABASE_URL="sqlite://$work/bench.db"
  else
    psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    export HERALD_DATABASE_URL="$pg/$db${BENCH_POSTGRES_PARAMS:-}"
  fi
  if [ "$1" = postgres+rabbitmq ]; then
    export HERALD_QUEUE_URL="$amqp" HERALD_QUEUE_NAME="herald.$db"
  fi
  "$bin/herald-admin" migrate up >/dev/null 2>&1
  token=$("$bin/herald-admin" token create --org bench 2>/dev/null)
  web_port=$(free_port) worker_port=$(free_port)
  "$bin/herald-web" --host 127.0.0.1 --port "$web_port" >/dev/null & pids+=($!)
  "$bin/herald-worker" --host 127.0.0.1 --port "$worker_port" >/dev/null & pids+=($!)
  for port in "$web_port" "$worker_port"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
  done
}

# Stops what start_formation started.
stop_formation() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
