//! `herald-bench e2e`: publish → receiver got it. Runs its own receiver (actix-web on its own
//! thread), creates an application with N endpoints pointing at it, publishes, and reports
//! deliveries per second and publish-to-arrival latency.

use crate::receiver::{latency_of, micros_now};
use anyhow::{Context, Result, bail};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Plan {
    pub url: String,
    pub token: String,
    pub endpoints: usize,
    pub messages: usize,
    pub rate: u64,
}

/// Latencies (µs) and the arrival time of each delivery.
type Arrivals = Arc<Mutex<Vec<(u64, Instant)>>>;

fn start_receiver(arrivals: Arrivals) -> Result<u16> {
    crate::receiver::start(move |_path, body| {
        if let Ok(mut all) = arrivals.lock() {
            all.push((latency_of(body), Instant::now()));
        }
        200
    })
}

pub fn run(plan: Plan) -> Result<()> {
    let arrivals: Arrivals = Arc::default();
    let port = start_receiver(arrivals.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(publish_and_wait(plan, port, arrivals))
}

async fn publish_and_wait(plan: Plan, port: u16, arrivals: Arrivals) -> Result<()> {
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", plan.url.trim_end_matches('/'));
    let app = format!("e2e-{}", micros_now());
    let created = http
        .post(format!("{api}/app"))
        .bearer_auth(&plan.token)
        .json(&serde_json::json!({"name": app, "uid": app}))
        .send()
        .await?;
    if !created.status().is_success() {
        bail!("creating the application: {}", created.status());
    }
    for i in 0..plan.endpoints {
        let endpoint = serde_json::json!({"url": format!("http://127.0.0.1:{port}/hook/{i}")});
        http.post(format!("{api}/app/{app}/endpoint")).bearer_auth(&plan.token).json(&endpoint).send().await?;
    }
    let expected = plan.messages * plan.endpoints;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients = if plan.rate == 0 { 32 } else { 4 };
    let mut senders = Vec::new();
    for _ in 0..clients {
        let (http, api, app, token, next) = (http.clone(), api.clone(), app.clone(), plan.token.clone(), next.clone());
        let (rate, total) = (plan.rate, plan.messages);
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return;
                }
                if rate > 0 {
                    let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let body =
                    format!(r#"{{"eventType":"bench.e2e","payload":{{"n":{n},"sent_at_us":{}}}}}"#, micros_now());
                let _ = http
                    .post(format!("{api}/app/{app}/msg"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
            }
        }));
    }
    for sender in senders {
        sender.await.context("publisher")?;
    }
    let published = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let got = arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    if all.len() < expected {
        bail!("only {} of {expected} deliveries arrived", all.len());
    }
    let last = all.iter().map(|(_, at)| *at).max().unwrap_or(started);
    let mut latencies: Vec<u64> = all.iter().map(|(l, _)| *l).collect();
    latencies.sort_unstable();
    let pick = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    let rate = if plan.rate == 0 { "max".to_owned() } else { format!("{}/s", plan.rate) };
    println!(
        "| {} msgs × {} endpoint(s), publish {rate} | {:.0} deliveries/s | {:.1} ms | {:.1} ms | {:.1} ms | published in {:.1} s |",
        plan.messages,
        plan.endpoints,
        expected as f64 / (last - started).as_secs_f64(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        published.as_secs_f64()
    );
    Ok(())
}
