#!/usr/bin/env bash
# Runs Herald's whole test suite: unit tests, and integration tests that start the real
# binaries against real Postgres, MariaDB, SQLite and RabbitMQ (see README: Tests).
# Arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv="$root/.venv"
if [ ! -x "$venv/bin/honcho" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "honcho==2.0.0"
fi
export HONCHO="$venv/bin/honcho"

# Integration tests run the binaries, so build all of them first.
cargo build --locked --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast "$@"
else
  cargo test --locked --workspace --no-fail-fast "$@"
fi
