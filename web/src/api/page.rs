//! List parameters and list bodies, as Svix has them: `limit` (default 50, at most 250),
//! `iterator`, `order`; `{data, done, iterator, prevIterator}`.

use herald::db::page::{Order, Page, PageRequest};
use serde::{Deserialize, Serialize};

/// Default page size.
const DEFAULT_LIMIT: usize = 50;
/// Largest page size; larger requests get this many.
const MAX_LIMIT: usize = 250;
/// Most bytes of stored bodies (message payloads, attempt responses) one page may load: a page
/// of large bodies holds fewer items (the iterator goes on from there), so a few concurrent lists
/// cannot take web's memory.
pub const LIST_BODY_BUDGET: usize = 16 << 20;

/// `order` in a query string.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

/// The pagination part of a list query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Page size.
    pub limit: Option<u64>,
    /// Where to continue.
    pub iterator: Option<String>,
    /// Sort order.
    pub order: Option<Ordering>,
}

impl ListQuery {
    /// The page to fetch; `default` is the listing's natural order.
    pub fn page(&self, default: Order) -> PageRequest {
        self.page_of_bodies(default, 0)
    }

    /// The page to fetch of items that each carry a stored body of up to `largest` bytes: no more
    /// than fit in [`LIST_BODY_BUDGET`] (at least one).
    pub fn page_of_bodies(&self, default: Order, largest: usize) -> PageRequest {
        let fit = LIST_BODY_BUDGET.checked_div(largest).unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
        let limit = self.limit.map_or(DEFAULT_LIMIT, |l| (l as usize).clamp(1, MAX_LIMIT)).min(fit);
        let order = match self.order {
            Some(Ordering::Ascending) => Order::Ascending,
            Some(Ordering::Descending) => Order::Descending,
            None => default,
        };
        PageRequest::new(limit, self.iterator.as_deref(), order)
    }
}

/// A list response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOut<T> {
    /// The items.
    pub data: Vec<T>,
    /// No more items in this direction.
    pub done: bool,
    /// Pass as `iterator` for the next page.
    pub iterator: Option<String>,
    /// Pass as `iterator` for the previous page.
    pub prev_iterator: Option<String>,
}

impl<T> ListOut<T> {
    /// Maps a page of rows to a response; fails when a row cannot be shown.
    pub fn from_page<R, E>(page: Page<R>, map: impl FnMut(R) -> Result<T, E>) -> Result<Self, E> {
        Ok(ListOut {
            data: page.data.into_iter().map(map).collect::<Result<_, E>>()?,
            done: page.done,
            iterator: page.iterator,
            prev_iterator: page.prev_iterator,
        })
    }

    /// Like [`ListOut::from_page`], leaving out the rows `map` has nothing to show for (a row
    /// whose related row was deleted meanwhile); the iterators still follow the page's keys.
    pub fn from_page_filtered<R, E>(page: Page<R>, mut map: impl FnMut(R) -> Result<Option<T>, E>) -> Result<Self, E> {
        let mut data = Vec::with_capacity(page.data.len());
        for row in page.data {
            data.extend(map(row)?);
        }
        Ok(ListOut { data, done: page.done, iterator: page.iterator, prev_iterator: page.prev_iterator })
    }
}

/// Formats a stored UTC time the way Svix does (RFC 3339, `Z`).
pub fn timestamp(time: chrono::NaiveDateTime) -> String {
    herald::clock::rfc3339(time)
}
