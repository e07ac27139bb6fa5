//! The RabbitMQ dispatch queue: web publishes the id of each new message (persistent, publisher
//! confirmed) from a bounded buffer; workers consume them. The queue only carries wake-ups: the message is already in
//! the database, so a publish that fails costs latency (the sweeper finds the message), never data.

use crate::backoff::Backoff;
use crate::db::redact_url;
use crate::metrics::Metrics;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::PublisherConfirm;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use slog::{Logger, info, warn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Persistent delivery mode (survives a broker restart).
const PERSISTENT: u8 = 2;

/// Opens a channel with publisher confirms on a new connection and declares the queue.
pub async fn open_channel(url: &str, queue: &str, quorum: bool) -> Result<(Connection, Channel), lapin::Error> {
    let connection = super::connect::connect(url).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    declare(&channel, queue, quorum).await?;
    Ok((connection, channel))
}

/// Declares Herald's durable dispatch queue (a quorum queue when asked).
pub async fn declare(channel: &Channel, queue: &str, quorum: bool) -> Result<(), lapin::Error> {
    let mut arguments = FieldTable::default();
    if quorum {
        arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    }
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), options, arguments).await?;
    Ok(())
}

/// Dispatch jobs published per round at most (their confirms are awaited together).
const BATCH: usize = 256;
/// First and longest wait between publishing rounds while the broker fails.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(10));

/// Publishes dispatch jobs from a bounded buffer on a task of its own: a request only puts its
/// job in the buffer, never waits for the broker, and during an outage web holds at most
/// `queue.publish_buffer` jobs; past that a job is skipped and counted (the workers' sweep fans
/// its message out). Jobs of a round that fails are counted as skipped too.
pub struct Publisher {
    jobs: mpsc::Sender<String>,
    metrics: Arc<Metrics>,
}

/// Where the publishing task sends to.
struct Target {
    url: String,
    queue: String,
    quorum: bool,
}

impl Publisher {
    /// Starts publishing to `queue` on the broker at `url` (connecting on the first job) on the
    /// current runtime.
    pub fn start(url: &str, queue: &str, quorum: bool, buffer: usize, log: Logger, metrics: Arc<Metrics>) -> Self {
        let (jobs, pending) = mpsc::channel(buffer.max(1));
        let target = Target { url: url.to_owned(), queue: queue.to_owned(), quorum };
        tokio::spawn(publish_all(target, pending, log, metrics.clone()));
        Publisher { jobs, metrics }
    }

    /// Hands a message's dispatch job to the publishing task without waiting; when the buffer is
    /// full it is skipped and counted.
    pub fn publish(&self, message_id: &str) {
        if self.jobs.try_send(message_id.to_owned()).is_err() {
            self.metrics.dispatch_jobs_skipped.inc();
        }
    }
}

/// Jobs published and not yet confirmed, at most; past it, publishing waits for confirms.
const UNCONFIRMED: usize = 4096;

/// How publishing stands: the channel, and the backoff while the broker fails.
struct Publishing {
    target: Target,
    open: Option<(Connection, Channel)>,
    /// Counts the channels dropped: a round's confirms that fail on a channel already dropped
    /// are counted, not backed off for again (at a steady rate thousands of one-job rounds may
    /// be waiting on one broken channel).
    channel: u64,
    backoff: Backoff,
    log: Logger,
    metrics: Arc<Metrics>,
}

impl Publishing {
    /// `jobs` jobs were not published, or not confirmed: counted (the sweep fans their messages
    /// out), the channel dropped, and publishing waits for the backoff's time.
    async fn failed(&mut self, jobs: usize, error: &PublishError) {
        self.open = None;
        self.channel += 1;
        self.metrics.dispatch_jobs_skipped.inc_by(jobs as u64);
        let failed = self.backoff.failed();
        if failed.first {
            warn!(self.log, "publishing dispatch jobs failed; backing off (the sweep fans those messages out)";
                "broker" => redact_url(&self.target.url), "error" => crate::error::chain(error));
        }
        tokio::time::sleep(failed.wait).await;
    }

    /// A round published on `channel` was not confirmed: the channel's first such failure drops
    /// it and backs off; the rest are only counted.
    async fn unconfirmed(&mut self, jobs: usize, channel: u64, error: &PublishError) {
        if channel == self.channel {
            self.failed(jobs, error).await;
        } else {
            self.metrics.dispatch_jobs_skipped.inc_by(jobs as u64);
        }
    }

    fn succeeded(&mut self) {
        if let Some(recovered) = self.backoff.succeeded() {
            info!(self.log, "publishing dispatch jobs again"; "failed_rounds" => recovered.failures,
                "after_ms" => recovered.lasted.as_millis() as u64);
        }
    }
}

/// Publishes what the buffer holds, a round at a time, until every sender is gone. A round's
/// confirms are awaited beside the rounds after it, never before them: the broker confirms a
/// persistent job once it is on its disk, and a job published meanwhile must not wait for that
/// (it would wait a disk write for every job ahead of it at a steady rate).
async fn publish_all(target: Target, mut pending: mpsc::Receiver<String>, log: Logger, metrics: Arc<Metrics>) {
    let backoff = Backoff::new(RETRY.0, RETRY.1);
    let mut state = Publishing { target, open: None, channel: 0, backoff, log, metrics };
    let mut round = Vec::with_capacity(BATCH);
    let mut confirming = FuturesUnordered::new();
    let mut unconfirmed = 0;
    loop {
        tokio::select! {
            Some((jobs, channel, confirmed)) = confirming.next(), if !confirming.is_empty() => {
                unconfirmed -= jobs;
                match confirmed {
                    Ok(()) => state.succeeded(),
                    Err(e) => state.unconfirmed(jobs, channel, &e).await,
                }
            }
            received = pending.recv_many(&mut round, BATCH), if unconfirmed < UNCONFIRMED => {
                if received == 0 {
                    break;
                }
                match publish_round(&state.target, &mut state.open, &round).await {
                    Ok(confirms) => {
                        unconfirmed += round.len();
                        confirming.push(confirmed(round.len(), state.channel, confirms));
                    }
                    Err(e) => state.failed(round.len(), &e).await,
                }
                round.clear();
            }
        }
    }
    while let Some((jobs, channel, confirmed)) = confirming.next().await {
        if let Err(e) = confirmed {
            state.unconfirmed(jobs, channel, &e).await;
        }
    }
}

/// Waits for the confirms of a round of `jobs` published on `channel`; the round, its channel,
/// and whether the broker took all of it.
async fn confirmed(
    jobs: usize,
    channel: u64,
    confirms: Vec<PublisherConfirm>,
) -> (usize, u64, Result<(), PublishError>) {
    for confirm in confirms {
        match confirm.await {
            Ok(confirmation) if confirmation.is_nack() => return (jobs, channel, Err(PublishError::Refused)),
            Ok(_) => {}
            Err(e) => return (jobs, channel, Err(PublishError::Publish(e))),
        }
    }
    (jobs, channel, Ok(()))
}

/// Why a round of dispatch jobs was not published.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    /// No channel could be opened.
    #[error("opening a channel")]
    Channel(#[source] lapin::Error),
    /// A publish or its confirmation failed.
    #[error("publishing")]
    Publish(#[source] lapin::Error),
    /// The broker answered a job with a nack.
    #[error("the broker refused a dispatch job")]
    Refused,
}

/// Publishes one round of jobs on the open channel (opening one first if needed); returns their
/// confirms, to await.
async fn publish_round(
    target: &Target,
    open: &mut Option<(Connection, Channel)>,
    ids: &[String],
) -> Result<Vec<PublisherConfirm>, PublishError> {
    let usable = open.as_ref().filter(|(c, ch)| c.status().connected() && ch.status().connected());
    let channel = match usable {
        Some((_, channel)) => channel.clone(),
        None => {
            let (connection, channel) =
                open_channel(&target.url, &target.queue, target.quorum).await.map_err(PublishError::Channel)?;
            *open = Some((connection, channel.clone()));
            channel
        }
    };
    let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
    let mut confirms = Vec::with_capacity(ids.len());
    for id in ids {
        let publish = channel.basic_publish(
            "".into(),
            target.queue.as_str().into(),
            BasicPublishOptions::default(),
            id.as_bytes(),
            properties.clone(),
        );
        confirms.push(publish.await.map_err(PublishError::Publish)?);
    }
    Ok(confirms)
}
