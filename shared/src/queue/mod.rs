//! The dispatch queue's attached resource. With `queue.url` empty the database is the queue;
//! with an AMQP URL, RabbitMQ carries wake-ups. This module keeps the broker connection.

pub mod amqp;
mod broker;
pub mod connect;

pub use broker::{connect_with_backoff, monitor_broker};
