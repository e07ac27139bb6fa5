#!/usr/bin/env bash
# Runs Herald's whole test suite: unit tests, and integration tests that start the real
# binaries against real Postgres, MariaDB, SQLite and RabbitMQ (see README: Tests).
# Arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Python tools the tests drive: honcho (the formation), the official Svix SDK (compatibility).
venv="$root/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/test-requirements.txt"
export HONCHO="$venv/bin/honcho"
export HERALD_TEST_PYTHON="$venv/bin/python"

# Integration tests run the binaries, so build all of them first.
cargo build --locked --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast "$@"
else
  cargo test --locked --workspace --no-fail-fast "$@"
fi
