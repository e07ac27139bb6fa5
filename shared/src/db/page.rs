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
