//! herald-web's integration tests: the real binaries against real databases, brokers and clients.
//! One test binary per crate: each binary links the whole world, so one builds and starts
//! faster than many. One module per area.

mod api_applications;
mod api_deliveries;
mod api_endpoints;
mod api_idempotency;
mod api_messages;
mod api_paging;
mod api_schemas;
mod formation;
mod group_commit;
mod lifecycle;
mod metrics;
mod portal;
mod reload;
mod schemathesis;
mod sdk;
mod tls;
