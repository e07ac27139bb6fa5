//! Hot reload: the config files are watched (through their directories, so editors' rename-on-save
//! and Kubernetes ConfigMap `..data` symlink swaps are seen) and re-read on SIGHUP. A valid new
//! document replaces the running one atomically; an invalid one is logged and ignored.

use super::schema::{get_path, schema, set_path};
use super::{ConfigError, ConfigHandle, ConfigSources, Loaded, load};
use notify::{RecursiveMode, Watcher};
use serde_json::Value;
use slog::{Logger, error, info, warn};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Editors write in several steps; events closer together than this count as one change.
const SETTLE: Duration = Duration::from_millis(150);

/// What one reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The sources hold what is already running.
    Unchanged,
    /// The new document is in force; keys needing a restart kept their running values.
    Applied {
        /// Keys whose new values are in force.
        changed: Vec<String>,
        /// Keys whose new values wait for a restart.
        pending_restart: Vec<String>,
    },
    /// The new document is invalid; the running config stays.
    Rejected(ConfigError),
}

/// Re-reads every source and swaps in the result if it is valid.
pub fn reload(handle: &ConfigHandle, sources: &ConfigSources) -> ReloadOutcome {
    let new = match load(sources) {
        Ok(new) => new,
        Err(e) => return ReloadOutcome::Rejected(e),
    };
    let old = handle.loaded();
    let differs = |path: &str| get_path(&old.document, path) != get_path(&new.document, path);
    let (restart, live): (Vec<&super::Leaf>, Vec<&super::Leaf>) =
        schema().leaves.iter().filter(|leaf| differs(&leaf.path)).partition(|leaf| leaf.restart);
    let (pending_restart, changed) = (paths(restart), paths(live));
    if changed.is_empty() && pending_restart.is_empty() {
        return ReloadOutcome::Unchanged;
    }
    // The handle describes what is in force, so restart-only keys keep their running values.
    let mut document = new.document;
    for path in &pending_restart {
        if let Some(running) = get_path(&old.document, path) {
            set_path(&mut document, path, running.clone());
        }
    }
    match serde_json::from_value(document.clone()) {
        Ok(config) => {
            handle.swap(Loaded { config: Arc::new(config), document, origins: new.origins });
            ReloadOutcome::Applied { changed, pending_restart }
        }
        Err(e) => ReloadOutcome::Rejected(ConfigError(vec![super::ConfigProblem {
            key: String::new(),
            origin: super::Origin::Default,
            message: format!("cannot combine the new config with the running one: {e}"),
        }])),
    }
}

fn paths(leaves: Vec<&super::Leaf>) -> Vec<String> {
    leaves.into_iter().map(|l| l.path.clone()).collect()
}

fn shown(path: &str, value: Option<&Value>) -> String {
    let secret = schema().leaf(path).is_some_and(|l| l.secret);
    match value {
        _ if secret => "<redacted>".into(),
        Some(v) => v.to_string(),
        None => "null".into(),
    }
}

/// Logs what a reload did, one line per key.
pub fn log_outcome(log: &Logger, before: &Value, handle: &ConfigHandle, outcome: &ReloadOutcome) {
    match outcome {
        ReloadOutcome::Unchanged => info!(log, "config reloaded: nothing changed"),
        ReloadOutcome::Applied { changed, pending_restart } => {
            let after = handle.loaded();
            for key in changed {
                info!(log, "config key changed"; "key" => key,
                    "old" => shown(key, get_path(before, key)), "new" => shown(key, get_path(&after.document, key)));
            }
            for key in pending_restart {
                warn!(log, "config key changed, pending restart"; "key" => key);
            }
        }
        ReloadOutcome::Rejected(e) => {
            for problem in &e.0 {
                error!(log, "config reload rejected, keeping the running config";
                    "key" => &problem.key, "source" => problem.origin.to_string(), "problem" => &problem.message);
            }
        }
    }
}

/// Reads the watched files, to tell a real change from an unrelated event in their directories.
fn snapshot(files: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    files.iter().map(|f| std::fs::read(f).ok()).collect()
}

/// Runs reloads for the life of the process: on SIGHUP, and when a config file changes. After
/// each applied reload `on_applied` runs with the new config (e.g. to adjust the log level).
pub fn spawn_reloader(
    handle: ConfigHandle,
    sources: ConfigSources,
    log: Logger,
    on_applied: impl Fn(&super::Config) + Send + 'static,
) -> std::io::Result<()> {
    let files = sources.effective_files(&std::env::vars().collect::<Vec<_>>());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .map_err(std::io::Error::other)?;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .map(|f| f.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).to_owned())
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            warn!(log, "cannot watch config directory; SIGHUP still reloads"; "dir" => dir.display().to_string(), "error" => e.to_string());
        }
    }
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // Taken now, not when the task first runs: a change made in between must still count.
    let mut last = snapshot(&files);
    tokio::spawn(async move {
        let _watcher = watcher;
        loop {
            let forced = tokio::select! {
                Some(()) = rx.recv() => false,
                Some(()) = hangup.recv() => true,
                else => break,
            };
            if forced {
                info!(log, "SIGHUP received, reloading config");
            } else {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            let before = handle.loaded().document.clone();
            // Reading the files (and re-validating) is blocking work: keep it off the runtime.
            let (files, previous, task_handle, task_sources) =
                (files.clone(), last.clone(), handle.clone(), sources.clone());
            let read = tokio::task::spawn_blocking(move || {
                let seen = snapshot(&files);
                // A file event that changed nothing (another file in the directory) is no reload.
                let outcome = (forced || seen != previous).then(|| reload(&task_handle, &task_sources));
                (seen, outcome)
            });
            let Ok((seen, outcome)) = read.await else { continue };
            last = seen;
            let Some(outcome) = outcome else { continue };
            log_outcome(&log, &before, &handle, &outcome);
            if matches!(outcome, ReloadOutcome::Applied { .. }) {
                on_applied(&handle.get());
            }
        }
    });
    Ok(())
}
