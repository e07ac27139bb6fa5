//! With `queue.url` set, the worker also consumes RabbitMQ dispatch jobs: each names a new
//! message, which is fanned out at once (jobs already waiting are taken together); jobs are
//! acknowledged only after the fan-out is in the database, so a worker that dies mid-job leaves it to the broker to hand to another. The broker
//! connection is reopened with backoff whenever it drops; meanwhile the database sweep goes on.

use crate::deliver::now;
use crate::dispatch::dispatch_ids;
use crate::runner::Runner;
use futures_util::{FutureExt, StreamExt};
use herald::context::Context;
use herald::lifecycle::StopSignal;
use herald::queue::{amqp, connect_with_backoff};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use slog::{info, warn};
use std::sync::Arc;
use tokio::sync::Notify;

/// Consumes until a stop signal arrives.
pub async fn consume(context: Context, runner: Runner, wake: Arc<Notify>, mut stop: StopSignal) {
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
            // Take every job already here too, and fan them out together.
            let mut jobs = vec![job];
            while jobs.len() < usize::from(prefetch.max(1)) {
                match consumer.next().now_or_never() {
                    Some(Some(Ok(job))) => jobs.push(job),
                    _ => break,
                }
            }
            let ids: Vec<String> = jobs.iter().map(|j| String::from_utf8_lossy(&j.data).into_owned()).collect();
            let last = jobs.pop().expect("at least one job");
            // Jobs arrive in delivery-tag order on this channel, so the last one's `multiple`
            // acknowledgement covers the whole batch.
            match dispatch_ids(&runner, &context, &ids, now()).await {
                Ok(()) => {
                    let _ = last.ack(BasicAckOptions { multiple: true }).await;
                    wake.notify_one();
                }
                Err(e) => {
                    warn!(log, "dispatch jobs failed; returning them to the queue"; "jobs" => ids.len(), "error" => e.to_string());
                    let _ = last.nack(BasicNackOptions { requeue: true, multiple: true }).await;
                }
            }
        }
        warn!(log, "broker connection lost; reconnecting (the database sweep goes on meanwhile)");
    }
}
