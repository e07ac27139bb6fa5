//! With `queue.url` set, the worker also consumes RabbitMQ dispatch jobs: each names a new
//! message, which is fanned out at once (jobs already waiting are taken together); jobs are
//! acknowledged only after the fan-out is in the database, so a worker that dies mid-job leaves it to the broker to hand to another. The broker
//! connection is reopened with backoff whenever it drops; meanwhile the database sweep goes on.

use crate::dispatch::dispatch_ids;
use crate::runner::Runner;
use futures_util::{FutureExt, StreamExt};
use herald::backoff::Backoff;
use herald::clock::now;
use herald::context::Context;
use herald::lifecycle::StopSignal;
use herald::model::ids::MessageId;
use herald::queue::{amqp, connect_with_backoff};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use slog::{info, warn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// First and longest wait before trying again while consuming or fanning out fails.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Consumes until a stop signal arrives.
pub async fn consume(context: Context, runner: Runner, wake: Arc<Notify>, mut stop: StopSignal) {
    let log = context.log.clone();
    let (url, queue, quorum, prefetch) =
        context.config.with(|c| (c.queue.url.clone(), c.queue.name.clone(), c.queue.quorum, c.queue.prefetch));
    // Setting up to consume and fanning out jobs each back off while they fail, and say so once.
    let (mut setup, mut fan_out) = (Backoff::new(RETRY.0, RETRY.1), Backoff::new(RETRY.0, RETRY.1));
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
                let failed = setup.failed();
                if failed.first {
                    warn!(log, "cannot consume dispatch jobs; retrying with backoff"; "error" => e.to_string());
                }
                tokio::select! {
                    () = tokio::time::sleep(failed.wait) => continue,
                    () = stop.wait() => return,
                }
            }
        };
        setup.succeeded();
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
            // A job is a message id; anything else names no message and fans nothing out.
            let ids: Vec<MessageId> =
                jobs.iter().filter_map(|j| MessageId::parse(&String::from_utf8_lossy(&j.data))).collect();
            let last = jobs.pop().expect("at least one job");
            // Jobs arrive in delivery-tag order on this channel, so the last one's `multiple`
            // acknowledgement covers the whole batch.
            match dispatch_ids(&runner, &context, &ids, now()).await {
                Ok(fanned) => {
                    runner.start_fanned(fanned).await;
                    let _ = last.ack(BasicAckOptions { multiple: true }).await;
                    wake.notify_one();
                    if let Some(recovered) = fan_out.succeeded() {
                        info!(log, "dispatch jobs going again"; "failed_rounds" => recovered.failures,
                            "after_ms" => recovered.lasted.as_millis() as u64);
                    }
                }
                Err(e) => {
                    // Held (not requeued at once, which would hand them straight back) for the
                    // backoff's wait, then returned to the queue; said once per run of failures.
                    let failed = fan_out.failed();
                    if failed.first {
                        warn!(log, "dispatch jobs failing; returning them to the queue after a backoff";
                            "jobs" => ids.len(), "error" => e.to_string());
                    }
                    let stopping = tokio::select! {
                        () = tokio::time::sleep(failed.wait) => false,
                        () = stop.wait() => true,
                    };
                    let _ = last.nack(BasicNackOptions { requeue: true, multiple: true }).await;
                    if stopping {
                        return;
                    }
                }
            }
        }
        warn!(log, "broker connection lost; reconnecting (the database sweep goes on meanwhile)");
    }
}
