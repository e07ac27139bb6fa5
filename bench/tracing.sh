# Sourced by bench/publish.sh and bench/e2e.sh. With BENCH_TRACING=1, starts an OTLP collector
# that reads and discards every export (worker/tests/otlp/collector.py --discard) and points
# Herald's tracing at it, so a run measures Herald's side of tracing; sets `collector` to its pid.
start_collector() {
  [ -n "${BENCH_TRACING:-}" ] || return 0
  local said
  said=$(mktemp)
  python3 "$root/worker/tests/otlp/collector.py" --discard >"$said" &
  collector=$!
  for _ in $(seq 50); do [ -s "$said" ] && break; sleep 0.1; done
  local port
  port=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$said")
  rm -f "$said"
  export HERALD_TRACING_OTLP_ENDPOINT="http://127.0.0.1:$port"
}
