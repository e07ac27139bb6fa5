//! Herald's benchmarks. `herald-bench startup` measures, on the release binaries: exec → first
//! 200 from `/health/alive` for web and worker, the size of each binary, and the idle memory
//! (RSS) of each process once ready. Results print as a Markdown table for BENCHMARKS.md.

mod e2e;
mod lists;
mod publish;
mod receiver;
mod soak;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "herald-bench", version, about = "Herald's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// End to end: publish messages and time their arrival at a receiver this command runs.
    E2e {
        /// herald-web's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8071")]
        url: String,
        /// An org token.
        #[arg(long)]
        token: String,
        /// Endpoints per application (each gets every message).
        #[arg(long, default_value_t = 1)]
        endpoints: usize,
        /// Messages to publish.
        #[arg(long, default_value_t = 2000)]
        messages: usize,
        /// Publish rate in messages per second; 0 publishes as fast as 32 clients can.
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// Load generator: POST messages to one application as fast as `concurrency` clients can.
    Publish {
        /// herald-web's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8071")]
        url: String,
        /// An org token.
        #[arg(long)]
        token: String,
        /// The application (id or uid) to publish to.
        #[arg(long)]
        app: String,
        /// Clients sending at once, each one request at a time on its own keep-alive connection.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// How long to measure (after a 2 s warm-up).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Payload size in bytes.
        #[arg(long, default_value_t = 256)]
        payload_bytes: usize,
    },
    /// Latency of GETs (list pages, /metrics), one request at a time: p50 and p99 per path.
    Lists {
        /// herald-web's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8071")]
        url: String,
        /// An org token.
        #[arg(long)]
        token: String,
        /// Requests measured per path.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// `label=path` to GET (a path under the URL, or a full URL).
        paths: Vec<String>,
    },
    /// A fixed rate for a long time to ten endpoints, one failing: a line per minute.
    Soak {
        /// herald-web's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8071")]
        url: String,
        /// An org token.
        #[arg(long)]
        token: String,
        /// Messages per second.
        #[arg(long, default_value_t = 100)]
        rate: u64,
        /// How long, in minutes.
        #[arg(long, default_value_t = 30)]
        minutes: u64,
    },
    /// Start-up time, binary size and idle memory of web and worker on SQLite.
    Startup {
        /// Directory holding the herald-* binaries (default: beside this one).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Start-ups measured per process type.
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
}

fn main() -> Result<()> {
    // reqwest is built without a default TLS provider in this workspace: use ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Bench::Startup { bin_dir, runs } => startup(bin_dir, runs),
        Bench::E2e { url, token, endpoints, messages, rate } => {
            e2e::run(e2e::Plan { url, token, endpoints, messages, rate })
        }
        Bench::Soak { url, token, rate, minutes } => soak::run(soak::Plan { url, token, rate, minutes }),
        Bench::Lists { url, token, requests, paths } => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(lists::run(lists::Plan { url, token, requests, paths }))
        }
        Bench::Publish { url, token, app, concurrency, seconds, payload_bytes } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(publish::run(publish::Plan { url, token, app, concurrency, seconds, payload_bytes }))
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One GET over a fresh connection; the status code, or None while the port is closed.
fn status_of(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &Path, port_var: &str, port: u16, db_url: &str) -> Result<Spawned> {
    let child = Command::new(binary)
        .env_clear()
        .env("HERALD_DATABASE_URL", db_url)
        .env(port_var, port.to_string())
        .env("HERALD_LOG_LEVEL", "warn")
        .env("HERALD_SECRETS_KEYS", r#"["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]"#)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    Ok(Spawned(child))
}

/// Exec → first 200 from /health/alive.
fn time_to_alive(binary: &Path, port_var: &str, db_url: &str) -> Result<Duration> {
    let port = free_port()?;
    let started = Instant::now();
    let _process = spawn(binary, port_var, port, db_url)?;
    while status_of(port, "/health/alive") != Some(200) {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("{} never answered", binary.display());
        }
    }
    Ok(started.elapsed())
}

/// Resident memory of a process that is ready and idle.
fn idle_rss_kib(binary: &Path, port_var: &str, db_url: &str) -> Result<u64> {
    let port = free_port()?;
    let process = spawn(binary, port_var, port, db_url)?;
    let started = Instant::now();
    while status_of(port, "/health/ready") != Some(200) {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("{} never became ready", binary.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.0.id()))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn startup(bin_dir: Option<PathBuf>, runs: usize) -> Result<()> {
    let dir = match bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().context("binary dir")?.to_owned(),
    };
    let work = std::env::temp_dir().join(format!("herald-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let db_url = format!("sqlite://{}", work.join("bench.db").display());
    let migrated = Command::new(dir.join("herald-admin"))
        .env_clear()
        .env("HERALD_DATABASE_URL", &db_url)
        .args(["migrate", "up"])
        .output()
        .context("run herald-admin")?;
    if !migrated.status.success() {
        bail!("migrate failed: {}", String::from_utf8_lossy(&migrated.stderr));
    }

    println!("| process | start → first 200 (median) | p90 | min | idle RSS | binary size |");
    println!("|---|---|---|---|---|---|");
    for (name, port_var) in [("herald-web", "HERALD_SERVE_PORT"), ("herald-worker", "HERALD_WORKER_PORT")] {
        let binary = dir.join(name);
        let mut times = (0..runs).map(|_| time_to_alive(&binary, port_var, &db_url)).collect::<Result<Vec<_>>>()?;
        times.sort();
        let rss = idle_rss_kib(&binary, port_var, &db_url)?;
        let size = std::fs::metadata(&binary)?.len();
        println!(
            "| {name} | {} | {} | {} | {:.1} MB | {:.1} MB |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(times[0]),
            rss as f64 / 1024.0,
            size as f64 / 1_000_000.0
        );
    }
    let admin = std::fs::metadata(dir.join("herald-admin"))?.len();
    println!("| herald-admin | – | – | – | – | {:.1} MB |", admin as f64 / 1_000_000.0);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
