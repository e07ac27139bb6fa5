//! Keyset pagination shared by every list: rows are ordered by a unique key (an id, which sorts by
//! creation time, or a name), and the iterator is the last key a page returned. An iterator that
//! starts with `-` pages backwards from that key (Svix's `prevIterator`).

/// The order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest (or first by name) first.
    Ascending,
    /// Newest first.
    Descending,
}

/// One page request: how many rows, after which key, in which order.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Most rows to return.
    pub limit: usize,
    /// The key to continue after (`None` for the first page).
    pub after: Option<String>,
    /// Whether `after` pages backwards (a `prevIterator`).
    pub backwards: bool,
    /// The listing's order.
    pub order: Order,
}

impl PageRequest {
    /// Reads an iterator as given by a client: `-key` pages backwards.
    pub fn new(limit: usize, iterator: Option<&str>, order: Order) -> Self {
        let (after, backwards) = match iterator {
            Some(it) if it.starts_with('-') => (Some(it[1..].to_owned()), true),
            Some(it) if !it.is_empty() => (Some(it.to_owned()), false),
            _ => (None, false),
        };
        PageRequest { limit, after, backwards, order }
    }

    /// Whether the query should scan keys upwards (ascending order, or descending paged back).
    pub fn scan_ascending(&self) -> bool {
        (self.order == Order::Ascending) != self.backwards
    }

    /// Rows to fetch: one more than the limit, to know whether another page exists.
    pub fn fetch(&self) -> i64 {
        self.limit as i64 + 1
    }
}

/// Narrows a boxed diesel query to one page of `$page` (a `&PageRequest`) keyed by the unique
/// text column `$key`: the keyset condition, the scan order and the limit, for every list alike.
/// Build the rows' [`Page`] with [`Page::from_rows`].
#[macro_export]
macro_rules! seek {
    ($query:expr, $key:expr, $page:expr) => {{
        let page: &$crate::db::page::PageRequest = $page;
        let query = $query;
        let query = match (&page.after, page.scan_ascending()) {
            (Some(k), true) => query.filter($key.gt(k.clone())).order($key.asc()),
            (None, true) => query.order($key.asc()),
            (Some(k), false) => query.filter($key.lt(k.clone())).order($key.desc()),
            (None, false) => query.order($key.desc()),
        };
        query.limit(page.fetch())
    }};
}

/// A page of rows with the iterators to move on.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, in the listing's order.
    pub data: Vec<T>,
    /// True when no rows follow in the direction of travel.
    pub done: bool,
    /// The key to pass as the next iterator.
    pub iterator: Option<String>,
    /// The iterator that pages back to the rows before this page.
    pub prev_iterator: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `request` (up to `limit + 1`), keyed by `key`.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > request.limit;
        rows.truncate(request.limit);
        if request.backwards {
            rows.reverse();
        }
        let first = rows.first().map(&key);
        let last = rows.last().map(&key);
        Page {
            done: if request.backwards { false } else { !more },
            iterator: last.or_else(|| request.after.clone()),
            prev_iterator: first.map(|k| format!("-{k}")),
            data: rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: std::ops::Range<u32>) -> Vec<String> {
        n.map(|i| format!("k{i:02}")).collect()
    }

    #[test]
    fn an_iterator_with_a_dash_pages_backwards() {
        let request = PageRequest::new(3, Some("-k05"), Order::Descending);
        assert_eq!((request.after.as_deref(), request.backwards), (Some("k05"), true));
        assert!(request.scan_ascending(), "descending paged back scans upwards");
        let request = PageRequest::new(3, Some(""), Order::Ascending);
        assert_eq!((request.after, request.backwards), (None, false), "an empty iterator is the first page");
    }

    #[test]
    fn a_full_fetch_leaves_more_to_come() {
        let request = PageRequest::new(3, None, Order::Ascending);
        assert_eq!(request.fetch(), 4, "one more than the limit");
        let page = Page::from_rows(keys(0..4), &request, Clone::clone);
        assert_eq!(page.data, keys(0..3));
        assert!(!page.done);
        assert_eq!(page.iterator.as_deref(), Some("k02"));
        assert_eq!(page.prev_iterator.as_deref(), Some("-k00"));
    }

    #[test]
    fn a_short_fetch_is_the_last_page() {
        let request = PageRequest::new(3, Some("k02"), Order::Ascending);
        let page = Page::from_rows(keys(3..5), &request, Clone::clone);
        assert!(page.done);
        assert_eq!(page.iterator.as_deref(), Some("k04"));
    }

    #[test]
    fn an_empty_page_keeps_the_iterator_it_was_given() {
        let request = PageRequest::new(3, Some("k09"), Order::Ascending);
        let page = Page::from_rows(Vec::<String>::new(), &request, Clone::clone);
        assert!(page.done);
        assert_eq!(page.iterator.as_deref(), Some("k09"), "polling again from the end finds new rows");
        assert_eq!(page.prev_iterator, None);
    }

    #[test]
    fn a_backward_page_comes_back_in_the_listing_order_and_is_never_done() {
        // Scanning upwards from k05 in a descending list fetched k06, k07, k08, k09.
        let request = PageRequest::new(3, Some("-k05"), Order::Descending);
        let page = Page::from_rows(keys(6..10), &request, Clone::clone);
        assert_eq!(page.data, vec!["k08", "k07", "k06"]);
        assert!(!page.done, "the rows after it are still there");
        assert_eq!(page.prev_iterator.as_deref(), Some("-k08"));
        assert_eq!(page.iterator.as_deref(), Some("k06"));
    }
}
