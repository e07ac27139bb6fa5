#!/usr/bin/env bash
# Where PostgreSQL's time goes while herald-web publishes as fast as it can: a private cluster
# from the machine's packages (pg_stat_statements loaded, I/O and WAL timing on, otherwise
# initdb's defaults: fsync and synchronous_commit on), web with its defaults, and herald-bench
# publish at 64 clients. Prints, per published message, the statements, WAL records, bytes and
# flushes, the CPU the database's processes used, and the statements by execution time.
#   bench/pg-time.sh [seconds]    (as root: the cluster runs as the postgres user;
#                                  BENCH_BIN_DIR names the binaries, else the release build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-15}
clients=${BENCH_CLIENTS:-64}
pgbin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg=postgres://postgres@127.0.0.1:$pgport
db=herald_pg_time
# shellcheck source=bench/setup.sh
. "$root/bench/setup.sh"
cluster=$work/cluster
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$cluster" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop_all EXIT
chmod 755 "$work"
mkdir -p "$cluster" && chown postgres "$cluster"
runuser -u postgres -- "$pgbin/initdb" -D "$cluster" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$cluster" -w -l "$cluster/log" start -o "-p $pgport -k $cluster \
  -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_preload_libraries=pg_stat_statements \
  -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on -c track_io_timing=on \
  -c track_wal_io_timing=on" >/dev/null
sql() { psql -qAt "$pg/$db" -c "$1"; }
psql -q "$pg/postgres" -c "CREATE DATABASE $db"
sql "CREATE EXTENSION pg_stat_statements"

export HERALD_DATABASE_URL="$pg/$db" HERALD_LOG_LEVEL=warn
"$bin/herald-admin" migrate up >/dev/null 2>&1
token=$("$bin/herald-admin" token create --org bench 2>/dev/null)
port=$(free_port)
"$bin/herald-web" --host 127.0.0.1 --port "$port" >/dev/null & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$port/api/v1/app" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"bench","uid":"bench"}' >/dev/null

# CPU seconds used so far by the cluster's processes (the postmaster and its children).
postmaster=$(head -n 1 "$cluster/postmaster.pid")
pg_cpu() {
  python3 - "$postmaster" <<'PY'
import os, sys
root = int(sys.argv[1])
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if int(pid) == root or int(fields[1]) == root:
        total += int(fields[11]) + int(fields[12])
print(total / tick)
PY
}

sql "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')" >/dev/null
before_messages=$(sql "SELECT count(*) FROM message")
before_cpu=$(pg_cpu)
started=$(date +%s.%N)
# Its 2-second warm-up is inside the window too: the counts and the CPU cover the same time.
"$bin/herald-bench" publish --url "http://127.0.0.1:$port" --token "$token" --app bench \
  --concurrency "$clients" --seconds "$seconds" >"$work/publish.md"
after_cpu=$(pg_cpu)
elapsed=$(python3 -c "import time; print(time.time() - $started)")
messages=$(($(sql "SELECT count(*) FROM message") - before_messages))

echo "publish: $(tail -n 1 "$work/publish.md")"
python3 - "$messages" "$before_cpu" "$after_cpu" "$elapsed" \
  "$(sql "SELECT wal_records, wal_bytes, wal_write, wal_sync, round(wal_write_time), round(wal_sync_time) FROM pg_stat_wal")" \
  "$(sql "SELECT coalesce(sum(calls), 0), round(coalesce(sum(total_exec_time), 0)), round(coalesce(sum(total_plan_time), 0))
          FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")" <<'PY'
import sys
messages, cpu0, cpu1, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
records, wal_bytes, writes, syncs, write_ms, sync_ms = (float(x) for x in sys.argv[5].split("|"))
calls, exec_ms, plan_ms = (float(x) for x in sys.argv[6].split("|"))
cpu = cpu1 - cpu0
per = lambda x: x / messages if messages else float("nan")
print(f"| messages stored | {messages} |")
print(f"| Postgres CPU | {cpu:.1f} s in {seconds:.1f} s ({cpu / seconds:.2f} cores), {per(cpu) * 1e6:.0f} µs per message |")
print(f"| statements | {per(calls):.2f} per message; executing {exec_ms / 1000:.1f} s, planning {plan_ms / 1000:.1f} s "
      f"({per(exec_ms) * 1000:.0f} + {per(plan_ms) * 1000:.0f} µs per message) |")
print(f"| WAL | {per(records):.1f} records, {per(wal_bytes):.0f} bytes per message |")
print(f"| WAL flushes (fsync) | {syncs:.0f}: {per(syncs):.3f} per message, {sync_ms / 1000:.1f} s flushing "
      f"({per(sync_ms) * 1000:.0f} µs per message); {writes:.0f} writes, {write_ms / 1000:.1f} s |")
PY
echo
echo "| statement | calls | total ms | mean µs | share of execution |"
echo "|---|---|---|---|---|"
sql "SELECT '| ' || left(regexp_replace(query, '\s+', ' ', 'g'), 70) || ' | ' || calls || ' | ' || round(total_exec_time)
       || ' | ' || round(1000 * mean_exec_time) || ' | ' || round(100 * total_exec_time / nullif(sum(total_exec_time) OVER (), 0))
       || ' % |'
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 6"
