//! HTTP pieces both long-running processes serve: health endpoints, request logging, the JSON
//! error for unknown routes, and the graceful stop of an actix server.

mod health;
mod in_flight;
mod not_found;
pub mod request_log;
mod serve;
pub mod tls;

pub use health::{health_routes, readiness_report};
pub use in_flight::{InFlight, track_in_flight};
pub use not_found::not_found;
pub use request_log::{REQUEST_ID_HEADER, ServerFault, request_log};
pub use serve::{HttpPlan, bind, serve};
