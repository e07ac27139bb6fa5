# Shared by the bench scripts that run a formation (sourced, after `root`, `pg` and `db` are
# set): the binaries to run (BENCH_BIN_DIR, else the release build), a work directory, the
# processes started (`pids`), a cleanup on exit that stops them and drops database `db`, and
# `free_port`.
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# BENCH_BIN_DIR runs other binaries (another build, to compare two versions on one machine).
bin=${BENCH_BIN_DIR:-$target/release}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HERALD_SECRETS_KEYS='["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]'
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
