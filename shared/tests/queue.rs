//! The database queue (`herald::db::work`) on its own, on each backend: fan-out, claim, record,
//! release and the lag count, called directly on a migrated database with no process around
//! them, so a regression shows here before it shows as a late or repeated webhook.

use chrono::{Duration as Span, NaiveDateTime};
use herald::clock::now;
use herald::config::{Database as DatabaseConfig, Pool};
use herald::db::JsonText;
use herald::db::application::{ApplicationRow, insert_application};
use herald::db::attempt::AttemptRow;
use herald::db::delivery::{DeliveryRow, deliveries_of_message};
use herald::db::endpoint::{EndpointRow, insert_endpoint};
use herald::db::message::{MessageRow, insert_message};
use herald::db::page::{Order, PageRequest};
use herald::db::work::{Finish, claim_due, count_due, fan_out, record_batch, release, undispatched_messages};
use herald::db::{Database, migrate};
use herald::model::ids::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use herald::model::status::{DeliveryStatus, MessageStatus, TriggerType};
use std::time::Duration;
use testkit::{Backend, TestDb, on_every_backend};

/// A migrated database of its own, with one application and one endpoint.
struct Queue {
    test_db: TestDb,
    db: Database,
    app: AppId,
    endpoint: EndpointId,
}

async fn queue(backend: Backend) -> Option<Queue> {
    let test_db = TestDb::create(backend).await?;
    let pool = Pool { max_size: 4, connect_timeout: Duration::from_secs(10), acquire_timeout: Duration::from_secs(10) };
    let db = Database::connect_lazy(&DatabaseConfig { url: test_db.url.clone(), pool }).expect("pool");
    migrate::up(&db, &test_db.url, Duration::from_secs(60)).await.expect("migrate");
    let at = now();
    let app = ApplicationRow {
        id: AppId::generate(),
        org_id: "org".into(),
        uid: None,
        name: "queue".into(),
        rate_limit: None,
        metadata: JsonText::default(),
        created_at: at,
        updated_at: at,
    };
    insert_application(&db, &app).await.expect("application");
    let endpoint = EndpointRow {
        id: EndpointId::generate(),
        app_id: app.id.clone(),
        uid: None,
        url: "https://example.com/hook".into(),
        description: String::new(),
        disabled: false,
        rate_limit: None,
        filter_types: None,
        channels: None,
        headers: JsonText::default(),
        secret: "sealed".into(),
        previous_secrets: JsonText::default(),
        metadata: JsonText::default(),
        version: 1,
        first_failure_at: None,
        disabled_trigger: None,
        created_at: at,
        updated_at: at,
    };
    insert_endpoint(&db, &endpoint, &[]).await.expect("endpoint");
    Some(Queue { test_db, db, app: app.id, endpoint: endpoint.id })
}

impl Queue {
    /// A stored message, not yet fanned out.
    async fn message(&self) -> MessageId {
        let row = MessageRow {
            id: MessageId::generate(),
            app_id: self.app.clone(),
            org_id: "org".into(),
            event_type: "thing.happened".into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some("{}".into()),
            created_at: now(),
            expires_at: None,
            dispatched_at: None,
            trace_context: None,
        };
        insert_message(&self.db, &row, None).await.expect("message");
        row.id
    }

    /// A waiting delivery of `message` to the endpoint, due at `due`.
    fn delivery(&self, message: &MessageId, due: NaiveDateTime) -> DeliveryRow {
        DeliveryRow {
            id: DeliveryId::generate(),
            message_id: message.clone(),
            endpoint_id: self.endpoint.clone(),
            app_id: self.app.clone(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: due,
            lease_owner: None,
            lease_expires_at: None,
            trigger_kind: TriggerType::Scheduled,
            created_at: due,
            updated_at: due,
        }
    }

    /// `n` messages, each fanned out to a delivery due `n - i` seconds ago (oldest first).
    async fn due(&self, n: i64) -> Vec<DeliveryRow> {
        let mut rows = Vec::new();
        for i in 0..n {
            let message = self.message().await;
            let row = self.delivery(&message, now() - Span::seconds(n - i));
            rows.extend(fan_out(&self.db, &[row], &[message], now()).await.expect("fan out"));
        }
        rows
    }

    async fn stored(&self, message: &MessageId) -> DeliveryRow {
        let page = PageRequest::new(10, None, Order::Ascending);
        let found = deliveries_of_message(&self.db, message, &page).await.expect("read back");
        found.data.into_iter().next().expect("one delivery")
    }
}

fn attempt(delivery: &DeliveryRow, status: MessageStatus) -> AttemptRow {
    AttemptRow {
        id: AttemptId::generate(),
        message_id: delivery.message_id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        app_id: delivery.app_id.clone(),
        delivery_id: Some(delivery.id.clone()),
        url: "https://example.com/hook".into(),
        status,
        response_status_code: if status == MessageStatus::Success { 200 } else { 500 },
        response: String::new(),
        response_duration_ms: 3,
        trigger_type: delivery.trigger_kind,
        created_at: now(),
    }
}

on_every_backend! {
    /// A fan-out stores each (message, endpoint) pair once and marks its messages dispatched.
    async fn fan_out_creates_each_pair_once(backend) {
        let Some(q) = queue(backend).await else { return };
        let message = q.message().await;
        assert_eq!(undispatched_messages(&q.db, now(), 10).await.expect("undispatched").len(), 1);
        let first = fan_out(&q.db, &[q.delivery(&message, now())], std::slice::from_ref(&message), now()).await.expect("fan out");
        assert_eq!(first.len(), 1, "{}", backend.name());
        assert!(undispatched_messages(&q.db, now(), 10).await.expect("undispatched").is_empty());
        // Another worker fanning out the same message (with its own delivery id) adds nothing.
        let again = fan_out(&q.db, &[q.delivery(&message, now())], &[message], now()).await.expect("fan out");
        assert!(again.is_empty(), "{}: {again:?}", backend.name());
        assert_eq!(q.test_db.count_rows("delivery").await, 1);
    }
}

on_every_backend! {
    /// Claims take what is due, oldest first, as many as asked, and lease them to the claimer.
    async fn claims_take_the_oldest_due_first_and_lease_them(backend) {
        let Some(q) = queue(backend).await else { return };
        let rows = q.due(3).await;
        let (at, lease) = (now(), now() + Span::seconds(30));
        let taken = claim_due(&q.db, "w1", at, lease, 2).await.expect("claim");
        let mut ids: Vec<&str> = taken.iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        let mut oldest: Vec<&str> = rows[..2].iter().map(|d| d.id.as_str()).collect();
        oldest.sort_unstable();
        assert_eq!(ids, oldest, "{}", backend.name());
        for d in &taken {
            assert_eq!(d.status, DeliveryStatus::Sending);
            assert_eq!(d.lease_owner.as_deref(), Some("w1"));
            assert_eq!(d.next_attempt_at, lease, "a held delivery is due again when its lease ends");
        }
        let rest = claim_due(&q.db, "w2", at, lease, 10).await.expect("claim");
        assert_eq!(rest.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), vec![rows[2].id.as_str()]);
        assert!(claim_due(&q.db, "w3", at, lease, 10).await.expect("claim").is_empty(), "nothing left");
    }
}

on_every_backend! {
    /// A worker that dies leaves a lease that lapses, and then another worker takes it over.
    async fn a_lapsed_lease_is_taken_over(backend) {
        let Some(q) = queue(backend).await else { return };
        let rows = q.due(1).await;
        let at = now();
        let held = claim_due(&q.db, "gone", at, at + Span::seconds(1), 1).await.expect("claim");
        assert_eq!(held.len(), 1);
        assert!(claim_due(&q.db, "w2", at, at + Span::seconds(30), 1).await.expect("claim").is_empty());
        let later = at + Span::seconds(2);
        let taken = claim_due(&q.db, "w2", later, later + Span::seconds(30), 1).await.expect("claim");
        assert_eq!(taken.iter().map(|d| &d.id).collect::<Vec<_>>(), vec![&rows[0].id], "{}", backend.name());
        assert_eq!(taken[0].lease_owner.as_deref(), Some("w2"));
    }
}

on_every_backend! {
    /// Outcomes are stored with their attempts, and only for deliveries the recorder still holds.
    async fn outcomes_are_recorded_only_by_the_holder(backend) {
        let Some(q) = queue(backend).await else { return };
        q.due(2).await;
        let at = now();
        let held = claim_due(&q.db, "w1", at, at + Span::seconds(30), 2).await.expect("claim");
        let (ok, failing) = (&held[0], &held[1]);
        let retry_at = at + Span::seconds(60);
        let finishes = [
            Finish { id: ok.id.clone(), status: DeliveryStatus::Succeeded, attempt_count: 1, next_attempt_at: at },
            Finish { id: failing.id.clone(), status: DeliveryStatus::Failed, attempt_count: 1, next_attempt_at: retry_at },
        ];
        let attempts = [attempt(ok, MessageStatus::Success), attempt(failing, MessageStatus::Fail)];
        let stolen = record_batch(&q.db, "w2", &[], &finishes, &[], at).await.expect("record").updated;
        assert_eq!(stolen, 0, "{}: another worker's outcome changes nothing", backend.name());
        assert_eq!(record_batch(&q.db, "w1", &attempts, &finishes, &[], at).await.expect("record").updated, 2);
        assert_eq!(q.test_db.count_rows("attempt").await, 2);
        let done = q.stored(&ok.message_id).await;
        assert_eq!((done.status, done.attempt_count, done.lease_owner), (DeliveryStatus::Succeeded, 1, None));
        let retrying = q.stored(&failing.message_id).await;
        assert_eq!((retrying.status, retrying.next_attempt_at), (DeliveryStatus::Failed, retry_at));
        assert_eq!(count_due(&q.db, at, 100).await.expect("count"), 0, "the retry is not due yet");
        assert_eq!(count_due(&q.db, retry_at, 100).await.expect("count"), 1);
    }
}

on_every_backend! {
    /// A stopping worker hands back what it took but never attempted, due at once for anyone.
    async fn released_deliveries_are_due_again_in_the_state_they_were_taken_in(backend) {
        let Some(q) = queue(backend).await else { return };
        q.due(2).await;
        let at = now();
        let held = claim_due(&q.db, "w1", at, at + Span::seconds(30), 2).await.expect("claim");
        let ids: Vec<DeliveryId> = held.iter().map(|d| d.id.clone()).collect();
        assert_eq!(release(&q.db, "w2", &ids, at).await.expect("release"), 0, "only the holder releases");
        assert_eq!(release(&q.db, "w1", &ids, at).await.expect("release"), 2, "{}", backend.name());
        let back = q.stored(&held[0].message_id).await;
        assert_eq!((back.status, back.lease_owner, back.next_attempt_at), (DeliveryStatus::Pending, None, at));
        assert_eq!(claim_due(&q.db, "w2", at, at + Span::seconds(30), 10).await.expect("claim").len(), 2);
    }
}

on_every_backend! {
    /// The lag counts deliveries due now, not those scheduled later.
    async fn the_lag_counts_only_what_is_due(backend) {
        let Some(q) = queue(backend).await else { return };
        q.due(3).await;
        let later = q.message().await;
        fan_out(&q.db, &[q.delivery(&later, now() + Span::hours(1))], &[later], now()).await.expect("fan out");
        assert_eq!(count_due(&q.db, now(), 100).await.expect("count"), 3, "{}", backend.name());
    }
}

on_every_backend! {
    /// The lag count stops at its cap, however many are due.
    async fn the_lag_count_stops_at_its_cap(backend) {
        let Some(q) = queue(backend).await else { return };
        q.due(3).await;
        assert_eq!(count_due(&q.db, now(), 2).await.expect("count"), 2, "{}", backend.name());
    }
}

on_every_backend! {
    /// The prune lease: one holder at a time, renewable by its holder, free again once released
    /// or lapsed, with no leader.
    async fn the_prune_lease_has_one_holder_at_a_time(backend) {
        use herald::db::maintenance::{PRUNE, release_lease, take_lease};
        let Some(q) = queue(backend).await else { return };
        let (db, at) = (&q.db, now());
        let minute = at + Span::minutes(1);
        assert!(take_lease(db, PRUNE, "a", at, minute).await.expect("take"), "free at first");
        assert!(!take_lease(db, PRUNE, "b", at, minute).await.expect("take"), "held by a");
        assert!(take_lease(db, PRUNE, "a", at, minute).await.expect("renew"), "a renews its own");
        // Lapsed: whoever asks after its end gets it, and the old holder no longer has it.
        let later = minute + Span::seconds(1);
        assert!(take_lease(db, PRUNE, "b", later, later + Span::minutes(1)).await.expect("take"), "lapsed");
        assert!(!take_lease(db, PRUNE, "a", later, later + Span::minutes(1)).await.expect("take"), "b holds it now");
        // Released by a, which no longer holds it: nothing changes; released by b: free.
        release_lease(db, PRUNE, "a").await.expect("release");
        assert!(!take_lease(db, PRUNE, "c", later, later).await.expect("take"), "still b's");
        release_lease(db, PRUNE, "b").await.expect("release");
        assert!(take_lease(db, PRUNE, "c", later, later).await.expect("take"), "free once released");
    }
}

on_every_backend! {
    /// Workers fanning out overlapping batches at once (dispatch jobs and the sweep naming the
    /// same messages, each in its own order) never deadlock: every fan-out commits, and each
    /// (message, endpoint) pair gets one delivery.
    async fn concurrent_fan_outs_of_overlapping_batches_never_deadlock(backend) {
        let Some(q) = queue(backend).await else { return };
        let name = backend.name();
        for round in 0..4 {
            let mut messages = Vec::new();
            for _ in 0..60 {
                messages.push(q.message().await);
            }
            let mut fan_outs = tokio::task::JoinSet::new();
            for worker in 0..6 {
                // Each worker its own overlapping part, in its own order.
                let mut mine: Vec<MessageId> = messages.iter().skip(worker * 5).take(40).cloned().collect();
                let turn = worker * 7 % mine.len();
                mine.rotate_left(turn);
                if worker % 2 == 1 {
                    mine.reverse();
                }
                let rows: Vec<DeliveryRow> = mine.iter().map(|m| q.delivery(m, now())).collect();
                let db = q.db.clone();
                fan_outs.spawn(async move { fan_out(&db, &rows, &mine, now()).await.map(|created| created.len()) });
            }
            let mut created = 0;
            while let Some(done) = fan_outs.join_next().await {
                created += done.expect("fan-out task").unwrap_or_else(|e| panic!("{name}: round {round}: {e}"));
            }
            assert_eq!(created, 60, "{name}: round {round}: one delivery per message");
        }
        assert_eq!(q.test_db.count_rows("delivery").await, 240, "{name}");
    }
}
