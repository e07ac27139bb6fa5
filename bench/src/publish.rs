//! `herald-bench publish`: many clients POSTing messages; reports throughput and latency.

use anyhow::{Result, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to run.
pub struct Plan {
    pub url: String,
    pub token: String,
    pub app: String,
    pub concurrency: usize,
    pub seconds: u64,
    pub payload_bytes: usize,
}

const WARM_UP: Duration = Duration::from_secs(2);

pub async fn run(plan: Plan) -> Result<()> {
    let endpoint = format!("{}/api/v1/app/{}/msg", plan.url.trim_end_matches('/'), plan.app);
    let filler = "x".repeat(plan.payload_bytes.saturating_sub(40));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..plan.concurrency {
        let (endpoint, token, filler) = (endpoint.clone(), plan.token.clone(), filler.clone());
        let (measuring, stop) = (measuring.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            // One connection per client, as a pool of senders in an application would hold.
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = format!(
                    r#"{{"eventType":"bench.event","payload":{{"client":{client},"n":{n},"fill":"{filler}"}}}}"#
                );
                let started = Instant::now();
                let sent = http
                    .post(&endpoint)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = matches!(&sent, Ok(r) if r.status().as_u16() == 202);
                if measuring.load(Ordering::Relaxed) {
                    if ok { latencies.push(started.elapsed()) } else { failures += 1 }
                }
            }
            anyhow::Ok((latencies, failures))
        }));
    }
    tokio::time::sleep(WARM_UP).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(plan.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for client in clients {
        let (mine, failed) = client.await??;
        latencies.extend(mine);
        failures += failed;
    }
    if latencies.is_empty() {
        bail!("no request succeeded ({failures} failures)");
    }
    latencies.sort();
    let pick = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "| POST /msg, {} clients, {} B payload | {:.0} msg/s | {:.1} ms | {:.1} ms | {} |",
        plan.concurrency,
        plan.payload_bytes,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pick(0.5),
        pick(0.99),
        failures
    );
    Ok(())
}
