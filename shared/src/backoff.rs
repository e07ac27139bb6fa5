//! Retrying what keeps failing (a database that is down, a broker that is away): each failure in
//! a row waits longer (doubling, with ±20 % jitter, up to a cap), and the loop says once that it
//! is failing and once that it recovered, never once per turn: a process whose database is down
//! must neither spin nor fill the log.
//!
//! Small enough to keep here: a backoff crate would compute the same delays, and the part that
//! matters (reporting a run of failures once) is ours either way.

use std::time::{Duration, Instant};

/// The state of one retry loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
    run: Option<FailureRun>,
}

/// A run of failures in a row.
#[derive(Debug, Clone, Copy)]
struct FailureRun {
    since: Instant,
    failures: u64,
}

/// What a failure means for the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    /// How long to wait before trying again.
    pub wait: Duration,
    /// True for the first failure of a run: the one to log.
    pub first: bool,
}

/// A run of failures that a success ended: log it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Failures in the run.
    pub failures: u64,
    /// How long the run lasted.
    pub lasted: Duration,
}

impl Backoff {
    /// Waits of `first`, doubling after each failure in a row, never more than `cap`.
    pub const fn new(first: Duration, cap: Duration) -> Self {
        Backoff { first, cap, next: first, run: None }
    }

    /// Notes a failure: how long to wait, and whether it starts a run.
    pub fn failed(&mut self) -> Failed {
        let first = self.run.is_none();
        let run = self.run.get_or_insert(FailureRun { since: Instant::now(), failures: 0 });
        run.failures += 1;
        let wait = self.next.mul_f64(rand::random_range(0.8..1.2)).min(self.cap);
        self.next = (self.next * 2).min(self.cap);
        Failed { wait, first }
    }

    /// Notes a success: the run of failures it ends, if there was one.
    pub fn succeeded(&mut self) -> Option<Recovered> {
        self.next = self.first;
        self.run.take().map(|run| Recovered { failures: run.failures, lasted: run.since.elapsed() })
    }

    /// Whether the last try failed.
    pub fn failing(&self) -> bool {
        self.run.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_only_the_first_failure_is_reported() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<Failed> = (0..6).map(|_| backoff.failed()).collect();
        assert!(waits[0].first && waits[1..].iter().all(|f| !f.first));
        assert!(waits[0].wait >= Duration::from_millis(80) && waits[0].wait <= Duration::from_millis(120));
        assert!(waits[2].wait >= Duration::from_millis(320) && waits[2].wait <= Duration::from_millis(480));
        assert!(waits.iter().all(|f| f.wait <= Duration::from_secs(1)), "{waits:?}");
        assert_eq!(waits[5].wait, Duration::from_secs(1).min(waits[5].wait));
        assert!(backoff.failing());
    }

    #[test]
    fn a_success_ends_the_run_once_and_starts_the_waits_over() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(backoff.succeeded(), None, "no run to end");
        backoff.failed();
        backoff.failed();
        assert_eq!(backoff.succeeded().map(|r| r.failures), Some(2));
        assert_eq!(backoff.succeeded(), None, "reported once");
        let again = backoff.failed();
        assert!(again.first && again.wait <= Duration::from_millis(120), "{again:?}");
    }
}
