#!/usr/bin/env bash
# Builds Herald's release binaries, migrates the embedded SQLite database and starts the
# formation (web + worker) with the real honcho and the repo's Procfile. Needs only the Rust
# toolchain and Python 3. Arguments go to `honcho start`, e.g. `scripts/run.sh -c web=2,worker=3`.
# Ctrl-C stops every process gracefully.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo build --release --locked --workspace --bins
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

venv="$root/.venv"
if [ ! -x "$venv/bin/honcho" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "honcho==2.0.0"
fi

export PATH="$target/release:$PATH"
mkdir -p "$root/.herald"
export DATABASE_URL="${DATABASE_URL:-sqlite://$root/.herald/herald.db}"
export HERALD_LOG_FORMAT="${HERALD_LOG_FORMAT:-text}"
# Local development delivers to receivers on this machine; production keeps loopback refused.
export HERALD_DELIVERY_ALLOWED_CIDRS="${HERALD_DELIVERY_ALLOWED_CIDRS:-[\"127.0.0.0/8\", \"::1/128\"]}"
# A local encryption key for endpoint secrets, made once and kept beside the database.
keys="$root/.herald/secret-keys.json"
if [ ! -s "$keys" ]; then
  python3 -c 'import base64, json, os; print(json.dumps([base64.b64encode(os.urandom(32)).decode()]))' > "$keys"
  chmod 600 "$keys"
fi
if [ -z "${HERALD_SECRETS_KEYS:-}" ] && [ -z "${HERALD_SECRETS_KEYS_FILE:-}" ]; then
  export HERALD_SECRETS_KEYS_FILE="$keys"
fi
# The first web port, as honcho takes it (PORT); web.N gets base+N-1, worker.N base+100+N-1.
base="${PORT:-8071}"

# The Procfile's release phase, run once before the formation (honcho would stop every process
# when a one-off process exits, so it is not started as part of the formation).
herald-admin migrate up >/dev/null

cat <<TXT

Herald is starting (database: ${DATABASE_URL%%\?*}).
  API        http://127.0.0.1:${base}/api/v1/   (web.N listens on ${base}+N-1)
  web ready  http://127.0.0.1:${base}/health/ready
  worker     http://127.0.0.1:$((base + 100))/health/ready
  token      herald-admin token create --org demo
  config     herald-admin config env   (binaries in $target/release)
  loopback receivers are allowed here (HERALD_DELIVERY_ALLOWED_CIDRS); production refuses them
Stop with Ctrl-C.

TXT
exec "$venv/bin/honcho" --procfile "$root/Procfile" --app-root "$root" start --port "$base" "$@" web worker
