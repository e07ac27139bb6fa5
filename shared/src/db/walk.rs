//! A list's table named together with the index its pages walk.
//!
//! Every list is `owner = ? AND key < ? ORDER BY key DESC LIMIT n` over an index `(owner, key)`.
//! Postgres and SQLite seek that index to the iterator. MariaDB 10.11 does not when one owner holds
//! most of the table: its cost model prefers `ref` on the owner alone, read from the owner's newest
//! row down to the iterator, so a page halfway back in a million rows reads half a million
//! (bench/scale.sh measured over a second). Naming the index (`FORCE INDEX`) leaves it a range that
//! starts at the iterator. On the other backends the index is not named: their planners already
//! seek, and a hint there would only be one more thing to keep in step with the schema.
//!
//! Diesel has no index hints, so this is a query source of its own, like diesel's `ONLY` for
//! Postgres: it stands for its table in every expression, and only the FROM clause differs. The
//! table's columns can be filtered and ordered on as they are; a selection of them is wrapped in
//! [`Columns`], which says they can be selected from the walk as from the table.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::mysql::Mysql;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, AstPass, FromClause, QueryFragment, QueryId, SelectStatement};
use diesel::query_source::{AppearsInFromClause, Once, QuerySource};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, Table};

/// `table`, read through the index named `index` on MySQL/MariaDB.
#[derive(Debug, Clone, Copy)]
pub struct Walk<T> {
    table: T,
    index: &'static str,
}

/// `table`'s rows, to be listed through `index` (an index of `table` in every backend's schema).
pub fn walk<T: Table>(table: T, index: &'static str) -> Walk<T> {
    Walk { table, index }
}

impl<T> QueryId for Walk<T> {
    // The index name is a value, not part of the type: statements are told apart by their SQL.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T> QuerySource for Walk<T>
where
    T: Table + Clone,
    T::DefaultSelection: ValidGrouping<()> + AppearsOnTable<Walk<T>>,
{
    type FromClause = Self;
    type DefaultSelection = Columns<T::DefaultSelection>;

    fn from_clause(&self) -> Self {
        self.clone()
    }

    fn default_selection(&self) -> Self::DefaultSelection {
        Columns(self.table.default_selection())
    }
}

/// The table's columns belong to the walk as they belong to the table.
impl<T: Table> AppearsInFromClause<T> for Walk<T> {
    type Count = Once;
}

impl<T> AsQuery for Walk<T>
where
    T: Table + Clone,
    T::DefaultSelection: ValidGrouping<()> + AppearsOnTable<Walk<T>>,
{
    type SqlType = <T::DefaultSelection as Expression>::SqlType;
    type Query = SelectStatement<FromClause<Self>>;

    fn as_query(self) -> Self::Query {
        SelectStatement::simple(self)
    }
}

impl<T: QueryFragment<Mysql>> QueryFragment<Mysql> for Walk<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        self.table.walk_ast(out.reborrow())?;
        out.push_sql(" FORCE INDEX (");
        out.push_identifier(self.index)?;
        out.push_sql(")");
        Ok(())
    }
}

/// Postgres reads the bare table.
impl<T: QueryFragment<Pg>> QueryFragment<Pg> for Walk<T> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.table.walk_ast(out)
    }
}

/// SQLite reads the bare table.
impl<T: QueryFragment<Sqlite>> QueryFragment<Sqlite> for Walk<T> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.table.walk_ast(out)
    }
}

/// Columns (one, or a tuple) of a walked table, to select from the walk: the same expression,
/// which diesel's generated impls only let be selected from the table itself.
#[derive(Debug, Clone, Copy)]
pub struct Columns<S>(pub S);

impl<S: Expression> Expression for Columns<S> {
    type SqlType = S::SqlType;
}

impl<S: QueryId> QueryId for Columns<S> {
    type QueryId = S::QueryId;
    const HAS_STATIC_QUERY_ID: bool = S::HAS_STATIC_QUERY_ID;
}

impl<S: ValidGrouping<G>, G> ValidGrouping<G> for Columns<S> {
    type IsAggregate = S::IsAggregate;
}

impl<S: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for Columns<S> {}

/// What appears on the walked table can be selected from it, as from any single table.
impl<S: AppearsOnTable<Walk<T>>, T> SelectableExpression<Walk<T>> for Columns<S> {}

impl<S: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Columns<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::message;
    use diesel::prelude::*;

    fn page_of_one_app() -> impl QueryFragment<Mysql> + QueryFragment<Pg> + QueryFragment<Sqlite> {
        walk(message::table, "message_app_id_id_idx")
            .as_query()
            .select(Columns((message::id, message::event_type)))
            .filter(message::app_id.eq("app_1"))
            .filter(message::id.lt("msg_2"))
            .order(message::id.desc())
            .limit(51)
    }

    #[test]
    fn mariadb_is_told_the_index() {
        let sql = diesel::debug_query::<Mysql, _>(&page_of_one_app()).to_string();
        assert!(sql.contains("FROM `message` FORCE INDEX (`message_app_id_id_idx`) WHERE"), "{sql}");
    }

    #[test]
    fn postgres_and_sqlite_read_the_bare_table() {
        let pg = diesel::debug_query::<Pg, _>(&page_of_one_app()).to_string();
        assert!(pg.contains(r#"FROM "message" WHERE"#), "{pg}");
        let sqlite = diesel::debug_query::<Sqlite, _>(&page_of_one_app()).to_string();
        assert!(sqlite.contains("FROM `message` WHERE"), "{sqlite}");
    }
}
