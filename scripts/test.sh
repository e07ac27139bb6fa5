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
# The official Svix JavaScript SDK, for the same compatibility scenario on Node.js.
npm ci --prefix "$root/web/tests/sdk/js" --no-audit --no-fund --loglevel=error
npm ci --prefix "$root/web/tests/portal" --no-audit --no-fund --loglevel=error

# Integration tests run the binaries, so build all of them first.
cargo build --locked --workspace --bins
# The release binaries again, fully static (glibc's static C runtime), for the test that runs them
# in an empty chroot: what makes a FROM-scratch image honest. getrandom is told to call glibc's
# getrandom() directly: its default probes for it with dlsym, which a static binary cannot, and
# then falls back to reading /dev/random, which an empty root does not have. Like the Dockerfile's
# build, they pack their relocations (RELR: 0.65 MB less per binary, ASLR kept) and leave out the
# unwind tables a panic=abort binary never reads (scripts/drop-unwind-tables.ld).
host=$(rustc -vV | sed -n 's/^host: //p')
# The script's path is relative to the workspace root, where cargo runs rustc (and so the linker)
# for the workspace's own crates: the flags stay the same in every clone, so a shared target
# directory keeps the dependencies built.
RUSTFLAGS="-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\" \
-C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,-T,scripts/drop-unwind-tables.ld" \
  cargo build --locked --release --target "$host" --workspace --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export HERALD_STATIC_BIN_DIR="$target_dir/$host/release"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast "$@"
else
  cargo test --locked --workspace --no-fail-fast "$@"
fi
