//! `herald-admin prune [--dry-run]`: removes what `retention.*` no longer keeps, in batches of
//! `retention.batch_size` rows with a short transaction each, safe beside running web and worker
//! processes and beside another prune. On a terminal it shows a progress bar per job; otherwise
//! it prints a JSON line per batch. Either way it ends with a summary. Interrupted (SIGINT,
//! SIGTERM) it stops after the batch in hand; killed, it loses nothing: run it again and it goes
//! on where it was.

use super::Unsuccessful;
use anyhow::Context as _;
use herald::boot::Booted;
use herald::clock::now;
use herald::db::Database;
use herald::prune::{Cutoffs, Job, Pass, count};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Prune {
    /// Count what would be removed now, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(cmd: Prune, booted: &Booted) -> anyhow::Result<()> {
    let config = booted.config.get();
    let db = Database::connect_lazy_sized(&config.database, 1).context("cannot use the database")?;
    let cut = Cutoffs::new(&config.retention, now());
    let started = Instant::now();
    let interactive = std::io::stderr().is_terminal();
    let mut done = Vec::new();
    if cmd.dry_run {
        for job in Job::ALL {
            done.push((job, count(&db, job, &cut).await.with_context(|| format!("counting {}", job.name()))?));
        }
        summarise(&done, true, false, interactive, started);
        return Ok(());
    }
    let stop = stop_requested();
    let bars = interactive.then(MultiProgress::new);
    let mut interrupted = false;
    for job in Job::ALL {
        let bar = match &bars {
            Some(bars) => {
                let total = count(&db, job, &cut).await.with_context(|| format!("counting {}", job.name()))?;
                Some(bars.add(progress_bar(job, total)))
            }
            None => None,
        };
        let mut pass = Pass::start(&db, job, &cut, config.retention.batch_size).await?;
        while let Some(changed) = pass.step(&db).await.with_context(|| format!("pruning {}", job.name()))? {
            match &bar {
                Some(bar) => bar.inc(changed as u64),
                None if changed > 0 => {
                    println!("{}", json!({"job": job.name(), "changed": changed, "so_far": pass.changed}));
                }
                None => {}
            }
            if stop.load(Ordering::SeqCst) {
                interrupted = true;
                break;
            }
        }
        if let Some(bar) = bar {
            bar.finish();
        }
        done.push((job, pass.changed));
        if interrupted {
            break;
        }
    }
    summarise(&done, false, interrupted, interactive, started);
    if interrupted {
        return Err(Unsuccessful("interrupted").into());
    }
    Ok(())
}

fn progress_bar(job: Job, total: u64) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(total).with_style(style).with_prefix(job.name()).with_message(job.verb())
}

/// What was done (or would be): a line per job on a terminal, one JSON object otherwise.
fn summarise(done: &[(Job, u64)], dry_run: bool, interrupted: bool, interactive: bool, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    if interactive {
        for (job, n) in done {
            let verb = if dry_run { format!("would be {}", job.verb()) } else { job.verb().to_owned() };
            println!("{:>22}: {n} {verb}", job.name());
        }
        if interrupted {
            println!("interrupted after {seconds:.1} s: run `herald-admin prune` again to go on");
        }
        return;
    }
    let counts: serde_json::Map<String, serde_json::Value> =
        done.iter().map(|(job, n)| (job.name().to_owned(), json!(n))).collect();
    println!("{}", json!({"summary": counts, "dry_run": dry_run, "interrupted": interrupted, "seconds": seconds}));
}

/// Set once SIGINT or SIGTERM arrives: the prune stops after the batch in hand.
fn stop_requested() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    tokio::spawn(async move {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        set.store(true, Ordering::SeqCst);
    });
    flag
}
