//! With `queue.url` set, the worker also consumes RabbitMQ dispatch jobs: each names a new
//! message, which is fanned out at once; the job is acknowledged only after the fan-out is in the
//! database, so a worker that dies mid-job leaves it to the broker to hand to another. The broker
//! connection is reopened with backoff whenever it drops; meanwhile the database sweep goes on.

use crate::deliver::now;
use crate::dispatch::dispatch_one;
use futures_util::StreamExt;
use herald::context::Context;
use herald::lifecycle::StopSignal;
use herald::queue::{amqp, connect_with_backoff};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use slog::{info, warn};
use std::sync::Arc;
use tokio::sync::Notify;

/// Consumes until a stop signal arrives.
pub async fn consume(context: Context, wake: Arc<Notify>, mut stop: StopSignal) {
    let log = context.log.clone();
    let (url, queue, quorum, prefetch) =
        context.config.with(|c| (c.queue.url.clone(), c.queue.name.clone(), c.queue.quorum, c.queue.prefetch));
    while !stop.is_stopping() {
        let connection = tokio::select! {
            connection = connect_with_backoff(&url, &log) => connection,
            () = stop.wait() => return,
        };
        let consumer = async {
            let channel = connection.create_channel().await?;
            channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
            amqp::declare(&channel, &queue, quorum).await?;
            channel
                .basic_consume(queue.as_str().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
                .await
        };
        let mut consumer = match consumer.await {
            Ok(consumer) => consumer,
            Err(e) => {
                warn!(log, "cannot consume dispatch jobs; retrying"; "error" => e.to_string());
                continue;
            }
        };
        info!(log, "consuming dispatch jobs"; "queue" => &queue);
        loop {
            let job = tokio::select! {
                job = consumer.next() => job,
                () = stop.wait() => return,
            };
            let Some(Ok(job)) = job else { break };
            let message_id = String::from_utf8_lossy(&job.data).into_owned();
            match dispatch_one(&context, &message_id, now()).await {
                Ok(()) => {
                    let _ = job.ack(BasicAckOptions::default()).await;
                    wake.notify_one();
                }
                Err(e) => {
                    warn!(log, "dispatch job failed; returning it to the queue"; "message" => &message_id, "error" => e.to_string());
                    let _ = job.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() }).await;
                }
            }
        }
        warn!(log, "broker connection lost; reconnecting (the database sweep goes on meanwhile)");
    }
}
