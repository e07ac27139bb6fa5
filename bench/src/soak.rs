//! `herald-bench soak`: a steady rate for a long time. Runs its own receiver, creates an
//! application with ten endpoints of which one always answers 500, publishes at a fixed rate,
//! and prints a line per minute: messages published, deliveries arrived, and the publish-to-
//! arrival p50/p99 of that minute's arrivals — to see whether latency levels off or grows.

use crate::receiver::{latency_of, micros_now};
use anyhow::{Result, bail};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Plan {
    pub url: String,
    pub token: String,
    pub rate: u64,
    pub minutes: u64,
}

/// Publish-to-arrival latencies (µs) of the current minute's successful deliveries.
type Minute = Arc<Mutex<Vec<u64>>>;

fn start_receiver(minute: Minute) -> Result<u16> {
    crate::receiver::start(move |path, body| {
        if path.contains("/fail") {
            return 500;
        }
        if let Ok(mut all) = minute.lock() {
            all.push(latency_of(body));
        }
        200
    })
}

pub fn run(plan: Plan) -> Result<()> {
    let minute: Minute = Arc::default();
    let port = start_receiver(minute.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(soak(plan, port, minute))
}

async fn soak(plan: Plan, port: u16, minute: Minute) -> Result<()> {
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", plan.url.trim_end_matches('/'));
    let app = format!("soak-{}", micros_now());
    let created =
        http.post(format!("{api}/app")).bearer_auth(&plan.token).json(&serde_json::json!({"name": app, "uid": app}));
    if !created.send().await?.status().is_success() {
        bail!("creating the application failed");
    }
    for i in 0..10 {
        let path = if i == 0 { "fail" } else { "ok" };
        let endpoint = serde_json::json!({"url": format!("http://127.0.0.1:{port}/{path}/{i}")});
        http.post(format!("{api}/app/{app}/endpoint")).bearer_auth(&plan.token).json(&endpoint).send().await?;
    }
    println!("| minute | published | delivered (9 of 10 endpoints) | p50 | p99 |");
    println!("|---|---|---|---|---|");
    let started = Instant::now();
    let mut published = 0u64;
    for m in 1..=plan.minutes {
        let end = started + Duration::from_secs(60 * m);
        let mut this_minute = 0u64;
        let mut failed = 0u64;
        while Instant::now() < end {
            let due = started + Duration::from_secs_f64(published as f64 / plan.rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let body = format!(r#"{{"eventType":"bench.soak","payload":{{"sent_at_us":{}}}}}"#, micros_now());
            let sent = http
                .post(format!("{api}/app/{app}/msg"))
                .bearer_auth(&plan.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            if !matches!(&sent, Ok(r) if r.status().as_u16() == 202) {
                failed += 1;
            }
            published += 1;
            this_minute += 1;
        }
        let mut latencies = minute.lock().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default();
        latencies.sort_unstable();
        let pick = |p: f64| {
            latencies
                .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
                .map_or(0.0, |l| *l as f64 / 1000.0)
        };
        println!(
            "| {m} | {this_minute}{} | {} | {:.1} ms | {:.1} ms |",
            if failed > 0 { format!(" ({failed} refused)") } else { String::new() },
            latencies.len(),
            pick(0.5),
            pick(0.99)
        );
    }
    Ok(())
}
