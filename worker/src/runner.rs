//! Starts attempts for deliveries this worker holds, each on its own task, at most
//! `worker.concurrency` at a time, and hands their outcomes to the recorder. The number of slots
//! follows the config when it is reloaded. Once the worker is stopping, no attempt starts: what
//! it holds and has not started goes back to the queue at once.

use crate::deliver::deliver;
use crate::record::Recorded;
use crate::slots::{Slot, Slots};
use chrono::NaiveDateTime;
use herald::context::Context;
use herald::db::DbError;
use herald::db::delivery::DeliveryRow;
use herald::db::endpoint::{EndpointRow, endpoints_by_ids};
use herald::db::message::{MessageRow, messages_by_ids};
use herald::db::work::release;
use herald::lifecycle::StopSignal;
use herald::model::ids::{DeliveryId, EndpointId, MessageId};
use slog::{info, warn};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Extra time a lease lasts beyond the attempt timeout, for the bookkeeping around the call.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Messages by id, shared with the tasks delivering them.
pub type Messages = HashMap<MessageId, Arc<MessageRow>>;
/// Endpoints by id, shared with the tasks delivering to them.
pub type Endpoints = HashMap<EndpointId, Arc<EndpointRow>>;

/// Runs attempts; cheap to clone (the engine and the broker consumer each hold one).
#[derive(Clone)]
pub struct Runner {
    context: Context,
    client: crate::client::Egress,
    owner: Arc<str>,
    slots: Slots,
    recorder: mpsc::UnboundedSender<Recorded>,
    stop: StopSignal,
}

impl Runner {
    /// A runner for the worker `owner` with `size` slots whose outcomes go to `recorder`, that
    /// starts nothing once `stop` is signalled.
    pub fn new(
        context: Context,
        client: crate::client::Egress,
        owner: &str,
        size: usize,
        recorder: mpsc::UnboundedSender<Recorded>,
        stop: StopSignal,
    ) -> Self {
        Runner { context, client, owner: owner.into(), slots: Slots::new(size), recorder, stop }
    }

    /// Sets the number of slots to `wanted` (see [`Slots::resize`]).
    pub fn resize(&self, wanted: usize) -> Option<(u32, u32)> {
        self.slots.resize(wanted)
    }

    /// The lease owner name of this worker.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Until when a delivery taken at `now` is held: the attempt's timeout plus a margin for the
    /// bookkeeping around it.
    pub fn lease_until(&self, now: NaiveDateTime) -> NaiveDateTime {
        let lease = self.context.config.with(|c| c.delivery.timeout) + LEASE_MARGIN;
        now + chrono::Duration::from_std(lease).unwrap_or_default()
    }

    /// Slots free now.
    pub fn free(&self) -> usize {
        self.slots.free()
    }

    /// Takes up to `wanted` slots free now. Work is taken from the queue (leased) only for the
    /// slots taken first, so a lease never runs while its delivery waits for a slot; slots not
    /// used are freed when dropped.
    pub fn reserve(&self, wanted: usize) -> Vec<Slot> {
        self.slots.take_free(wanted)
    }

    /// Starts deliveries taken from the queue with slots reserved for them, loading their
    /// messages and endpoints first.
    pub async fn start_claimed(&self, held: Vec<DeliveryRow>, slots: Vec<Slot>) -> Result<(), DbError> {
        if held.is_empty() {
            return Ok(());
        }
        let db = &self.context.db;
        fn distinct<T: Ord + Clone>(ids: impl Iterator<Item = T>) -> Vec<T> {
            let mut ids: Vec<T> = ids.collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        let messages = messages_by_ids(db, &distinct(held.iter().map(|d| d.message_id.clone()))).await?;
        let endpoints = endpoints_by_ids(db, &distinct(held.iter().map(|d| d.endpoint_id.clone()))).await?;
        let messages = messages.into_iter().map(|m| (m.id.clone(), Arc::new(m))).collect();
        let endpoints = endpoints.into_iter().map(|e| (e.id.clone(), Arc::new(e))).collect();
        self.start(held, slots, &messages, &endpoints).await;
        Ok(())
    }

    /// Starts what a fan-out created held by this worker.
    pub async fn start_fanned(&self, fanned: crate::dispatch::FannedOut) {
        self.start(fanned.held, fanned.slots, &fanned.messages, &fanned.endpoints).await;
    }

    /// Starts one attempt per delivery, each in one of `slots` (reserved before the deliveries
    /// were leased); never waits. Deliveries left without a slot, and all of them once a stop has
    /// come, are handed back to the queue at once.
    async fn start(&self, held: Vec<DeliveryRow>, slots: Vec<Slot>, messages: &Messages, endpoints: &Endpoints) {
        let mut slots = slots.into_iter();
        let mut held = held.into_iter();
        while let Some(delivery) = held.next() {
            let (Some(message), Some(endpoint)) =
                (messages.get(&delivery.message_id), endpoints.get(&delivery.endpoint_id))
            else {
                continue; // deleted meanwhile; the cascade removed the delivery too
            };
            let Some(slot) = slots.next().filter(|_| !self.stop.is_stopping()) else {
                self.hand_back(std::iter::once(delivery).chain(held).map(|d| d.id).collect()).await;
                return;
            };
            let (runner, message, endpoint) = (self.clone(), message.clone(), endpoint.clone());
            actix_web::rt::spawn(async move {
                match deliver(&runner.context, &runner.client, delivery, &message, endpoint).await {
                    Ok(done) => {
                        let _ = runner.recorder.send(Recorded { done, message: message.clone(), _slot: slot });
                    }
                    Err(e) => {
                        warn!(runner.context.log, "a delivery failed before its attempt; its lease will lapse and it will be retried";
                            "error" => e.to_string());
                    }
                }
            });
        }
    }

    /// Returns deliveries this worker holds but will not attempt to the queue, for any worker;
    /// if that fails, their leases lapse instead (later, but nothing is lost).
    async fn hand_back(&self, ids: Vec<DeliveryId>) {
        let log = &self.context.log;
        match release(&self.context.db, &self.owner, &ids, herald::clock::now()).await {
            Ok(released) => {
                info!(log, "stopping: handed deliveries not started back to the queue"; "deliveries" => released)
            }
            Err(e) => {
                warn!(log, "stopping: handing deliveries back failed; their leases will lapse and they will be retried";
                "deliveries" => ids.len(), "error" => e.to_string())
            }
        }
    }

    /// Waits until every attempt started has been made and stored, or `timeout` passes; true
    /// when everything finished.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.slots.drain(timeout).await
    }

    /// Attempts running or waiting to be stored.
    pub fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }
}
