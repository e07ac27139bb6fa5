//! Resource ids: a type prefix and a ULID, so ids sort by creation time and need no coordination
//! between processes (`app_01JDZ…`, `msg_01JDZ…`).

use std::sync::Mutex;

/// One monotonic generator per process: ids made by a process sort in the order it made them,
/// even within one millisecond (lists page by id, so a client creating two resources in a row
/// sees them in that order). Across processes, order is only as fine as the millisecond.
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// Makes a new id with `prefix` (e.g. `app`).
pub fn new_id(prefix: &str) -> String {
    let next = GENERATOR.lock().map(|mut generator| generator.generate());
    // The random part overflows only after 2^80 ids in one millisecond; a plain ULID then.
    // (Not `unwrap_or_default`: a default ULID is the nil one.)
    let ulid = match next {
        Ok(Ok(ulid)) => ulid,
        _ => ulid::Ulid::new(),
    };
    format!("{prefix}_{ulid}")
}

/// Prefixes of Herald's resource ids.
pub mod prefix {
    /// Applications.
    pub const APPLICATION: &str = "app";
    /// Event types.
    pub const EVENT_TYPE: &str = "evtype";
    /// Endpoints.
    pub const ENDPOINT: &str = "ep";
    /// Messages.
    pub const MESSAGE: &str = "msg";
    /// Deliveries.
    pub const DELIVERY: &str = "dlv";
    /// Delivery attempts.
    pub const ATTEMPT: &str = "atmpt";
    /// API tokens.
    pub const TOKEN: &str = "tok";
}

/// Whether `text` looks like an id with `prefix` (as opposed to a user-chosen uid).
pub fn is_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.parse::<ulid::Ulid>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_unique_and_sortable() {
        let a = new_id("app");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("app");
        assert!(a.starts_with("app_") && a.len() == 30, "{a}");
        assert!(a < b, "later ids sort after earlier ones");
        assert!(is_id(&a, "app"));
        assert!(!is_id(&a, "ep"));
        assert!(!is_id("app_my-uid", "app"));
    }

    #[test]
    fn ids_made_within_one_millisecond_keep_their_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("msg")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly ascending");
    }
}
