//! JSON stored in a text column (Herald's three backends share no JSON type): parsed once, where
//! the row is read, into the type the code uses. A value that does not parse is an error naming
//! what it should have been, never a silent default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::mysql::Mysql;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// A list of names (event types, channels, tags).
pub type Names = Vec<String>;

/// String keys to string values (metadata, custom headers).
pub type StringMap = std::collections::BTreeMap<String, String>;

/// An event type's schemas: version to JSON Schema (each an object).
pub type Schemas = std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>;

/// A `T` stored as its JSON text, parsed when the row is read. A stored text that does not parse
/// does not fail the whole query (one bad row must not stop a batch of others): it is kept, and
/// reading the value gives an error, which the caller reports with the row it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct JsonText<T>(Result<T, Unparsed>);

/// A stored text that did not parse: the text (written back as it was if the row is saved) and
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsed {
    text: String,
    reason: String,
}

impl<T> JsonText<T> {
    /// A value to store.
    pub fn new(value: T) -> Self {
        JsonText(Ok(value))
    }

    /// The value, or why the stored text is not one.
    pub fn get(&self) -> Result<&T, CorruptJson> {
        self.0.as_ref().map_err(|u| CorruptJson::of::<T>(u))
    }

    /// The value, or why the stored text is not one.
    pub fn into_inner(self) -> Result<T, CorruptJson> {
        self.0.map_err(|u| CorruptJson::of::<T>(&u))
    }
}

impl<T: Default> Default for JsonText<T> {
    fn default() -> Self {
        JsonText::new(T::default())
    }
}

/// A stored JSON text that does not parse as the type its column holds.
#[derive(Debug, Clone, thiserror::Error)]
#[error("stored JSON{row} is not a valid {what}: {reason}")]
pub struct CorruptJson {
    /// The type the column holds.
    pub what: &'static str,
    /// Why it does not parse.
    pub reason: String,
    /// The row it was read from, once the caller has said (` of endpoint ep_…, headers`).
    row: String,
}

impl CorruptJson {
    fn of<T>(unparsed: &Unparsed) -> Self {
        CorruptJson { what: std::any::type_name::<T>(), reason: unparsed.reason.clone(), row: String::new() }
    }

    /// The same error naming the row and column it was read from.
    pub fn in_row(mut self, table: &str, id: &str, column: &str) -> Self {
        self.row = format!(" in {table} {id}, column {column}");
        self
    }
}

impl<T, DB> FromSql<Text, DB> for JsonText<T>
where
    DB: Backend,
    String: FromSql<Text, DB>,
    T: DeserializeOwned,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        Ok(JsonText(serde_json::from_str(&text).map_err(|e| Unparsed { reason: e.to_string(), text })))
    }
}

impl<T: Serialize + Debug> ToSql<Text, Pg> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        match &self.0 {
            Ok(value) => serde_json::to_writer(&mut *out, value)?,
            Err(unparsed) => std::io::Write::write_all(out, unparsed.text.as_bytes())?,
        }
        Ok(IsNull::No)
    }
}

impl<T: Serialize + Debug> ToSql<Text, Mysql> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
        match &self.0 {
            Ok(value) => serde_json::to_writer(&mut *out, value)?,
            Err(unparsed) => std::io::Write::write_all(out, unparsed.text.as_bytes())?,
        }
        Ok(IsNull::No)
    }
}

impl<T: Serialize + Debug> ToSql<Text, Sqlite> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // SQLite binds an owned value; the text is made here, once.
        match &self.0 {
            Ok(value) => out.set_value(serde_json::to_string(value)?),
            Err(unparsed) => out.set_value(unparsed.text.as_str()),
        }
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_stored_as_compact_json() {
        // Channel filters match the stored text with LIKE '%"name"%': the form must not change.
        let text = serde_json::to_string(&vec!["a".to_owned(), "b".to_owned()]).unwrap();
        assert_eq!(text, r#"["a","b"]"#);
    }

    #[test]
    fn corrupt_text_names_the_type_and_the_row() {
        let stored: JsonText<Vec<String>> =
            JsonText(Err(Unparsed { text: "{".into(), reason: "EOF while parsing".into() }));
        let error = stored.get().unwrap_err().in_row("endpoint", "ep_1", "channels").to_string();
        assert_eq!(
            error,
            "stored JSON in endpoint ep_1, column channels is not a valid \
             alloc::vec::Vec<alloc::string::String>: EOF while parsing"
        );
    }
}
