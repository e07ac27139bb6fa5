# syntax=docker/dockerfile:1
#
# Herald's image: herald-web, herald-worker and herald-admin, statically linked against musl, on an
# empty base (no shell, no package manager). The process to run is chosen by the command:
#
#   docker build -t herald:local .
#   docker run --rm -e DATABASE_URL=... -e HERALD_SECRETS_KEYS='["..."]' herald:local               # herald-web
#   docker run --rm -e DATABASE_URL=... -e HERALD_SECRETS_KEYS='["..."]' herald:local herald-worker
#   docker run --rm -e DATABASE_URL=... herald:local herald-admin migrate up

# ---- build -------------------------------------------------------------------------------------
# The official Rust image on Alpine already carries gcc and musl-dev (ring and the bundled SQLite
# compile C) and its default target is x86_64-unknown-linux-musl, which links statically.
FROM rust:1.95.0-alpine3.23 AS builder
WORKDIR /src
# Smaller binaries, as scripts/test.sh builds them: relocations packed (RELR; musl reads them since
# 1.2.4, and both Alpine 3.23's and Rust 1.95's are 1.2.5), no unwind tables (release aborts on
# panic). The script's path is relative to /src, the workspace root, where cargo runs rustc.
ENV RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,-T,scripts/drop-unwind-tables.ld"
COPY . .
# The registry and target directories are cache mounts, so rebuilds recompile only what changed;
# the binaries are copied out of the cache within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p herald-web -p herald-worker -p herald-admin \
    && mkdir -p /out \
    && cp target/release/herald-web target/release/herald-worker target/release/herald-admin /out/

# ---- run ---------------------------------------------------------------------------------------
FROM scratch
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Self-hosted webhook delivery: herald-web, herald-worker, herald-admin" \
      org.opencontainers.image.licenses="Apache-2.0"
# Certificate authorities for HTTPS deliveries: the worker's HTTP client (reqwest with rustls)
# verifies receivers against the system store, which an empty image does not have. (Database TLS
# uses the Mozilla roots compiled into the binaries.)
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/ /usr/local/bin/
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The distroless "nonroot" ids; nothing in the image needs to be written.
USER 65532:65532
# herald-web's serve.port and herald-worker's worker.port (health and metrics).
EXPOSE 8071 8072
# No ENTRYPOINT: the command names the binary (compose `command:`, Kubernetes `command:`).
CMD ["herald-web"]
