//! `herald-bench lists`: GETs each given path one request at a time (a reader paging through an
//! API, not a load test) and reports the p50 and p99 latency of each, failing on any non-200.

use anyhow::{Result, bail};
use std::time::{Duration, Instant};

/// What to run.
pub struct Plan {
    pub url: String,
    pub token: String,
    pub requests: usize,
    /// `label=path` pairs; a path starting with `/api/` is under `url`, any other is a full URL.
    pub paths: Vec<String>,
}

pub async fn run(plan: Plan) -> Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    for spec in &plan.paths {
        let (label, path) = spec.split_once('=').unwrap_or((spec, spec));
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", plan.url) };
        let mut latencies: Vec<Duration> = Vec::with_capacity(plan.requests);
        // Two unmeasured requests first: the connection and the database's cache warm up.
        for i in 0..plan.requests + 2 {
            let started = Instant::now();
            let response = http.get(&url).bearer_auth(&plan.token).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            if status != 200 {
                bail!("{label}: GET {url} answered {status}: {}", String::from_utf8_lossy(&body));
            }
            if i >= 2 {
                latencies.push(started.elapsed());
            }
        }
        latencies.sort();
        let pick = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
        println!("| {label} | {:.1} ms | {:.1} ms |", pick(0.5), pick(0.99));
    }
    Ok(())
}
