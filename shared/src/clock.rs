//! The one clock every process reads: UTC, at the precision the databases store, so a time that
//! is written and read back compares equal to the one that was computed.

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// Now in UTC, truncated to microseconds (what Postgres, MySQL's `DATETIME(6)` and Herald's
/// SQLite text timestamps all keep).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Now as whole seconds since the Unix epoch (what webhook signatures carry).
pub fn unix_seconds() -> i64 {
    Utc::now().timestamp()
}

/// A time as the API writes it: RFC 3339 in UTC, with microseconds.
pub fn rfc3339(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_keeps_no_more_than_microseconds() {
        let t = now();
        assert_eq!(t.and_utc().timestamp_subsec_nanos() % 1_000, 0, "{t}");
    }
}
