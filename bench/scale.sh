#!/usr/bin/env bash
# Cost as the tables grow: the same measurements on two databases of one server, in one run —
# empty, and preloaded (bench/preload.py, SQL, no API) with ROWS messages of one application
# with their deliveries and attempts — printed side by side with the ratio.
#
#   bench/scale.sh [rows]                 (default 10 000 000; needs the release binaries)
#   BENCH_BACKEND=mysql bench/scale.sh 1000000        (postgres, the default; mysql; sqlite)
#
# Measured, in this order, with web and one worker running:
#   - list pages, one request at a time (p50, p99 of 200): first and a deep page (an iterator
#     halfway back in time) of each list an operator or a portal pages through, and the
#     endpoint's stats (of 20); the lists of a small tenant whose rows (one in 10 000) are
#     scattered through the big one's; `/metrics` of web and of the worker;
#   - on Postgres, the claim's and the lag count's SELECT in the database (EXPLAIN ANALYZE,
#     p50/p99 of 50 runs);
#   - end to end at 200 messages/s (1 000 messages) and as fast as they come (BENCH_E2E, 5 000),
#     a fresh application with one endpoint at herald-bench's receiver;
#   - publishing for 10 s with 64 clients, to a fresh application.
# After the preload the tables are VACUUM ANALYZEd (ANALYZEd on MariaDB and SQLite), as autovacuum
# would have done long before a table reached that size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-10000000}
backend=${BENCH_BACKEND:-postgres}
e2e_messages=${BENCH_E2E:-5000}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
my=${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin=${BENCH_BIN_DIR:-$target/release}
for b in herald-web herald-worker herald-admin herald-bench; do
  [ -x "$bin/$b" ] || { echo "scale: no $bin/$b (cargo build --release --workspace --bins)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/herald-scale.XXXXXX)
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
cleanup() {
  stop
  if [ -z "${BENCH_KEEP:-}" ]; then
    for phase in empty loaded; do
      psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS herald_scale_${phase}_$$" 2>/dev/null || true
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS herald_scale_${phase}_$$" 2>/dev/null || true
    done
    rm -rf "$work"
  fi
}
trap cleanup EXIT
export HERALD_SECRETS_KEYS='["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]'
export HERALD_LOG_LEVEL=warn HERALD_DELIVERY_ALLOWED_CIDRS='["127.0.0.0/8"]' HERALD_WORKER_CONCURRENCY=64

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api() { # METHOD PATH [BODY]
  curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    ${3:+-d "$3"} "http://127.0.0.1:$web_port/api/v1$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
# A message id made at "14 days ago" with no randomness: an iterator halfway back in time.
halfway_id() {
  python3 -c '
import time
a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ms = int(time.time() * 1000) - 14 * 86400000
print("'"$1"'_" + "".join(a[(ms >> (45 - 5 * k)) & 31] for k in range(10)) + "0" * 16)'
}
sql() { # runs SQL on the phase's database, prints rows
  case $backend in
    postgres) psql -Atq "$db_url" -c "$1" ;;
    mysql) mariadb -N -h 127.0.0.1 -u root "herald_scale_${phase}_$$" -e "$1" ;;
    sqlite) sqlite3 "$work/$phase.db" "$1" ;;
  esac
}
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$work/$phase.tsv"; } # label metric value

start_formation() {
  web_port=$(free_port)
  worker_port=$(free_port)
  "$bin/herald-web" --host 127.0.0.1 --port "$web_port" >>"$work/$phase.log" 2>&1 & pids+=($!)
  "$bin/herald-worker" --host 127.0.0.1 --port "$worker_port" >>"$work/$phase.log" 2>&1 & pids+=($!)
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$web_port/health/ready" >/dev/null \
      && curl -sf "http://127.0.0.1:$worker_port/health/ready" >/dev/null && return
    sleep 0.1
  done
  echo "scale: the formation did not get ready" >&2
  exit 1
}

lists() { # REQUESTS LABEL=URL…: p50 and p99 of each, one request at a time
  local requests=$1
  shift
  "$bin/herald-bench" lists --url "http://127.0.0.1:$web_port" --token "$token" --requests "$requests" "$@"
}

measure() {
  local ep=$1 small_ep=$2 halfway msg attempt
  halfway=$(halfway_id msg)
  attempt=$(halfway_id atmpt)
  msg=$(sql "SELECT id FROM message WHERE id < '$halfway' ORDER BY id DESC LIMIT 1")
  [ -n "$msg" ] || msg=$(api POST /app/big/msg '{"eventType":"invoice.paid","payload":{}}' | field id)
  local a=/api/v1/app/big before
  before=$(date -u -d '14 days ago' +%Y-%m-%dT%H:%M:%SZ)
  { lists 200 \
    "messages, first page=$a/msg?limit=50" \
    "messages, deep page=$a/msg?limit=50&iterator=$halfway" \
    "messages of one event type, first page=$a/msg?limit=50&event_types=invoice.paid" \
    "messages of one event type, deep page=$a/msg?limit=50&event_types=invoice.paid&iterator=$halfway" \
    "messages before a date=$a/msg?limit=50&before=$before" \
    "attempts of the endpoint, first page=$a/attempt/endpoint/$ep?limit=50" \
    "attempts of the endpoint, deep page=$a/attempt/endpoint/$ep?limit=50&iterator=$attempt" \
    "failed attempts of the endpoint=$a/attempt/endpoint/$ep?limit=50&status=2" \
    "attempts of one message=$a/attempt/msg/$msg" \
    "messages of the endpoint, first page=$a/endpoint/$ep/msg?limit=50" \
    "messages of the endpoint, deep page=$a/endpoint/$ep/msg?limit=50&iterator=$halfway" \
    "endpoints of one message=$a/msg/$msg/endpoint" \
    "small tenant: messages=/api/v1/app/small/msg?limit=50" \
    "small tenant: messages of one event type=/api/v1/app/small/msg?limit=50&event_types=user.created" \
    "small tenant: attempts of the endpoint=/api/v1/app/small/attempt/endpoint/$small_ep?limit=50" \
    "small tenant: messages of the endpoint=/api/v1/app/small/endpoint/$small_ep/msg?limit=50" \
    "applications=/api/v1/app?limit=50" \
    "web /metrics=http://127.0.0.1:$web_port/metrics" \
    "worker /metrics=http://127.0.0.1:$worker_port/metrics"
    # The stats count every delivery of the endpoint (a second or more each at a million on
    # MariaDB): 20 requests, so they do not take the run's time.
    lists 20 "endpoint stats=$a/endpoint/$ep/stats"
  } | tee -a "$work/$phase.md" \
    | while IFS='|' read -r _ label p50 p99 _; do
        record "$(echo "$label" | xargs)" p50 "$(echo "$p50" | xargs)"
        record "$(echo "$label" | xargs)" p99 "$(echo "$p99" | xargs)"
      done
  if [ "$backend" = postgres ]; then
    explain "claim's SELECT (64 due, in Postgres)" \
      "SELECT id FROM delivery WHERE status IN (0, 1, 3) AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 64 FOR UPDATE SKIP LOCKED"
    explain "lag count (in Postgres)" \
      "SELECT COUNT(*) FROM (SELECT 1 FROM delivery WHERE status IN (0, 1, 3) AND next_attempt_at <= now() LIMIT 10000) AS due"
  fi
  local line
  for run in "200 1000" "0 $e2e_messages"; do
    set -- $run
    line=$("$bin/herald-bench" e2e --url "http://127.0.0.1:$web_port" --token "$token" --endpoints 1 --messages "$2" --rate "$1")
    echo "$line" | tee -a "$work/$phase.md"
    local label="end to end, $( [ "$1" = 0 ] && echo "full speed" || echo "200 msg/s" )"
    IFS="|" read -r _ _ throughput p50 _p90 p99 _ <<<"$line"
    record "$label" throughput "$(echo "$throughput" | xargs)"
    record "$label" p50 "$(echo "$p50" | xargs)"
    record "$label" p99 "$(echo "$p99" | xargs)"
  done
  if [ "$backend" = postgres ]; then
    # Which updates were HOT (no new index entries) during the runs above.
    psql -Atq "$db_url" -F ' ' -c "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
      WHERE relname IN ('delivery', 'message', 'endpoint', 'endpoint_rate', 'idempotency_key', 'attempt')
      ORDER BY relname" | while read -r table updates hot; do
        echo "| updates of $table (HOT / all) | $hot / $updates |" | tee -a "$work/$phase.md"
      done
  fi
  local app
  app=$(api POST /app '{"name":"publish"}' | field id)
  line=$("$bin/herald-bench" publish --url "http://127.0.0.1:$web_port" --token "$token" --app "$app" --concurrency 64 --seconds 10)
  echo "$line" | tee -a "$work/$phase.md"
  IFS='|' read -r _ _ throughput p50 p99 _ <<<"$line"
  record "publish, 64 clients" throughput "$(echo "$throughput" | xargs)"
  record "publish, 64 clients" p50 "$(echo "$p50" | xargs)"
  record "publish, 64 clients" p99 "$(echo "$p99" | xargs)"
}

# EXPLAIN ANALYZE of a statement 50 times (rolled back): p50 and p99 of its execution time.
explain() {
  local label=$1 statement=$2 times
  times=$(for _ in $(seq 50); do
    psql -Atq "$db_url" -c "BEGIN" -c "EXPLAIN ANALYZE $statement" -c "ROLLBACK" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p'
  done | sort -n)
  local p50 p99
  p50=$(sed -n '25p' <<<"$times")
  p99=$(sed -n '50p' <<<"$times")
  echo "| $label | ${p50} ms | ${p99} ms |" | tee -a "$work/$phase.md"
  record "$label" p50 "$p50 ms"
  record "$label" p99 "$p99 ms"
}

for phase in empty loaded; do
  case $backend in
    postgres)
      psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS herald_scale_${phase}_$$" -c "CREATE DATABASE herald_scale_${phase}_$$"
      db_url="$pg/herald_scale_${phase}_$$" ;;
    mysql)
      mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE herald_scale_${phase}_$$"
      db_url="$my/herald_scale_${phase}_$$" ;;
    sqlite) db_url="sqlite://$work/$phase.db" ;;
    *) echo "BENCH_BACKEND: postgres, mysql or sqlite" >&2; exit 2 ;;
  esac
  export HERALD_DATABASE_URL=$db_url
  "$bin/herald-admin" migrate up >/dev/null 2>&1
  token=$("$bin/herald-admin" token create --org bench 2>/dev/null)
  start_formation
  app=$(api POST /app '{"name":"big","uid":"big"}' | field id)
  ep=$(api POST /app/big/endpoint '{"url":"https://receiver.example.com/hook"}' | field id)
  small=$(api POST /app '{"name":"small","uid":"small"}' | field id)
  small_ep=$(api POST /app/small/endpoint '{"url":"https://receiver.example.com/small"}' | field id)
  if [ "$phase" = loaded ]; then
    stop
    started=$(date +%s)
    python3 "$root/bench/preload.py" "$backend" "$db_url" "$app" "$ep" "$rows" "$small" "$small_ep"
    case $backend in
      postgres) psql -q "$db_url" -c "VACUUM (ANALYZE)" ;;
      mysql) sql "ANALYZE TABLE message, delivery, attempt" >/dev/null ;;
      sqlite) sql "ANALYZE" ;;
    esac
    echo "scale: preloaded $rows messages in $(( $(date +%s) - started )) s; database size: $(
      case $backend in
        postgres) psql -Atq "$db_url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))" ;;
        mysql) sql "SELECT CONCAT(ROUND(SUM(data_length + index_length) / 1e9, 1), ' GB') FROM information_schema.tables WHERE table_schema = DATABASE()" ;;
        sqlite) du -h "$work/$phase.db" | cut -f1 ;;
      esac)" | tee -a "$work/summary.txt"
    start_formation
  fi
  echo "== $backend, $phase" >&2
  measure "$ep" "$small_ep"
  stop
done

python3 - "$work/empty.tsv" "$work/loaded.tsv" "$rows" "$backend" <<'PY'
import sys
def read(path):
    out = {}
    for line in open(path):
        label, metric, value = line.rstrip("\n").split("\t")
        out[(label, metric)] = value
    return out
empty, loaded, rows, backend = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def number(v):
    try:
        return float(v.split()[0])
    except (ValueError, IndexError):
        return None
print(f"| {backend}: measurement | empty | {rows:,} messages | loaded / empty |")
print("|---|---|---|---|")
for key in empty:
    a, b = number(empty[key]), number(loaded.get(key, ""))
    ratio = f"{b / a:.2f}" if a and b is not None else "–"
    print(f"| {key[0]} ({key[1]}) | {empty[key]} | {loaded.get(key, '–')} | {ratio} |")
PY
cat "$work/summary.txt"
