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

/// A `T` stored as its JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct JsonText<T>(pub T);

impl<T> JsonText<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonText<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for JsonText<T> {
    fn from(value: T) -> Self {
        JsonText(value)
    }
}

/// A stored JSON text that does not parse as the type its column holds.
#[derive(Debug, thiserror::Error)]
#[error("stored JSON is not a valid {what}: {source}")]
pub struct CorruptJson {
    /// The type the column holds.
    pub what: &'static str,
    /// Why it does not parse.
    #[source]
    pub source: serde_json::Error,
}

impl<T, DB> FromSql<Text, DB> for JsonText<T>
where
    DB: Backend,
    String: FromSql<Text, DB>,
    T: DeserializeOwned,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        serde_json::from_str(&text)
            .map(JsonText)
            .map_err(|source| CorruptJson { what: std::any::type_name::<T>(), source }.into())
    }
}

impl<T: Serialize + Debug> ToSql<Text, Pg> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T: Serialize + Debug> ToSql<Text, Mysql> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T: Serialize + Debug> ToSql<Text, Sqlite> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // SQLite binds an owned value; the text is made here, once.
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_stored_as_compact_json() {
        // Channel filters match the stored text with LIKE '%"name"%': the form must not change.
        let text = serde_json::to_string(&JsonText(vec!["a".to_owned(), "b".to_owned()]).0).unwrap();
        assert_eq!(text, r#"["a","b"]"#);
    }

    #[test]
    fn corrupt_text_names_the_type_it_should_have_been() {
        let error = serde_json::from_str::<Vec<String>>("{")
            .map_err(|source| CorruptJson { what: std::any::type_name::<Vec<String>>(), source });
        let text = error.unwrap_err().to_string();
        assert!(text.starts_with("stored JSON is not a valid alloc::vec::Vec<alloc::string::String>"), "{text}");
    }
}
