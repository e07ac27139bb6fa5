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

/// Declares the id type of one resource: a string made by [`new_id`] with its prefix, stored as
/// text, shown as itself. A value of one id type cannot be passed where another is expected.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:expr) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new, unique id.
            pub fn generate() -> Self {
                $name(new_id($prefix))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Text taken as this id without checking its form: a client's filter value (which
            /// then matches no row unless it is one), or a placeholder the database fills in.
            pub fn from_unchecked(text: impl Into<String>) -> Self {
                $name(text.into())
            }

            /// The lowest id this process could make at `at` or later: every id below it was made
            /// before `at` (to the millisecond, as far as the makers' clocks agree), so a range
            /// of ids below it is a range of creation times, walked through the primary key.
            pub fn first_at(at: chrono::NaiveDateTime) -> Self {
                let ms = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
                $name(format!("{}_{}", $prefix, ulid::Ulid::from_parts(ms, 0)))
            }

            /// `text` when it has this type's form (prefix and ULID), as opposed to a uid.
            pub fn parse(text: &str) -> Option<Self> {
                is_id(text, $prefix).then(|| $name(text.to_owned()))
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl slog::Value for $name {
            fn serialize(
                &self,
                _record: &slog::Record<'_>,
                key: slog::Key,
                serializer: &mut dyn slog::Serializer,
            ) -> slog::Result {
                serializer.emit_str(key, &self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                String::from_sql(bytes).map($name)
            }
        }
    };
}

id_type!(
    /// An application's id (`app_…`).
    AppId, prefix::APPLICATION
);
id_type!(
    /// An endpoint's id (`ep_…`).
    EndpointId, prefix::ENDPOINT
);
id_type!(
    /// A message's id (`msg_…`).
    MessageId, prefix::MESSAGE
);
id_type!(
    /// A delivery's id (`dlv_…`).
    DeliveryId, prefix::DELIVERY
);
id_type!(
    /// An attempt's id (`atmpt_…`).
    AttemptId, prefix::ATTEMPT
);

/// How a client names a resource in a path: by its id, or by the uid it chose (an application's
/// or endpoint's `uid`, a message's `eventId`). Text of the id's form may still be a uid that
/// merely looks like one: lookups by id fall back to the uid, the id winning a tie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrUid<T> {
    /// Text of the id's form.
    Id(T),
    /// Anything else: only a uid.
    Uid(String),
}

impl<T> IdOrUid<T> {
    /// The text as given.
    pub fn text(&self) -> &str
    where
        T: std::ops::Deref<Target = str>,
    {
        match self {
            IdOrUid::Id(id) => id,
            IdOrUid::Uid(uid) => uid,
        }
    }
}

macro_rules! id_or_uid_from {
    ($($name:ident),+) => {
        $(impl From<&str> for IdOrUid<$name> {
            fn from(text: &str) -> Self {
                $name::parse(text).map_or_else(|| IdOrUid::Uid(text.to_owned()), IdOrUid::Id)
            }
        })+
    };
}
id_or_uid_from!(AppId, EndpointId, MessageId);

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
    fn the_first_id_at_a_time_sorts_between_the_ids_made_before_and_after_it() {
        let before = MessageId::generate();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let boundary = MessageId::first_at(chrono::Utc::now().naive_utc());
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = MessageId::generate();
        assert!(before < boundary && boundary < after, "{before} {boundary} {after}");
        assert!(MessageId::parse(&boundary).is_some(), "it has the id's form");
    }

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
    fn text_of_an_ids_form_is_an_id_and_anything_else_a_uid() {
        let id = AppId::generate();
        assert_eq!(IdOrUid::<AppId>::from(id.as_str()), IdOrUid::Id(id.clone()));
        assert_eq!(IdOrUid::<AppId>::from("acme-1"), IdOrUid::Uid("acme-1".into()));
        assert!(matches!(IdOrUid::<EndpointId>::from(id.as_str()), IdOrUid::Uid(_)), "another type's id is a uid here");
    }

    #[test]
    fn ids_made_within_one_millisecond_keep_their_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("msg")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly ascending");
    }
}
