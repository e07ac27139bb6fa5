//! What web looked up in the database in the last second, so a burst of requests costs one lookup
//! per key per second: tokens, and the schemas event types enforce. A change made through another
//! process takes effect within the TTL; one made through this process is forgotten at once.
//! Bounded: past its size the cache starts over (a flood of distinct keys costs lookups, never
//! memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Values by key, each trusted for `ttl` after it was looked up.
pub struct TtlCache<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache keeping at most `max_entries`, each for `ttl`.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        TtlCache { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// The value for `key`, if looked up within the TTL.
    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(value, _)| value.clone())
    }

    /// Remembers a looked-up value.
    pub fn put(&self, key: &str, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries {
                entries.clear();
            }
            entries.insert(key.to_owned(), (value, Instant::now()));
        }
    }

    /// Forgets a key (after changing what it names here).
    pub fn forget(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_for_the_ttl_then_looked_up_again() {
        let cache = TtlCache::new(Duration::from_millis(50), 10);
        cache.put("a", 1);
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("a"), None);
    }

    #[test]
    fn a_flood_of_keys_starts_the_cache_over() {
        let cache = TtlCache::new(Duration::from_secs(60), 2);
        cache.put("a", 1);
        cache.put("b", 2);
        cache.put("c", 3);
        assert_eq!((cache.get("a"), cache.get("c")), (None, Some(3)));
    }
}
