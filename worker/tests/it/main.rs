//! herald-worker's integration tests: real deliveries to real receivers, through faults.
//! One test binary per crate: each binary links the whole world, so one builds and starts
//! faster than many. One module per area.

mod amqp;
mod chaos;
mod concurrency;
mod crash;
mod delivery;
mod egress;
mod faults;
mod lifecycle;
mod operational;
mod retention;
mod tracing;
