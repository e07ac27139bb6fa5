//! Storing operational events (see [`crate::operational`]) with the change they report.

use super::schema::application;
use super::{Database, DbError};
use crate::model::ids::{AppId, MessageId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::collections::HashMap;

/// Stores `$notices` (a `&[Notice]`) as messages of their organisation's operational application,
/// on connection `$c`, inside the caller's transaction so that they commit with the change they
/// report. Each is one statement that finds the application itself: an organisation without one
/// gets nothing. Evaluates to the ids of the messages stored; a failed statement returns its
/// `diesel::result::Error` from the enclosing function (the transaction's closure).
macro_rules! insert_notices {
    ($c:expr, $notices:expr) => {{
        use $crate::db::schema::application;
        let mut stored: Vec<$crate::model::ids::MessageId> = Vec::new();
        for notice in $notices {
            let notice: &$crate::operational::Notice = notice;
            let apps = application::table
                .filter(application::org_id.eq(&notice.row().org_id))
                .filter(application::uid.eq($crate::operational::APP_UID));
            if $crate::db::message::insert_for_found_app!($c, apps, notice.row())? > 0 {
                stored.push(notice.id().clone());
            }
        }
        stored
    }};
}
pub(crate) use insert_notices;

/// The messages a change stored to tell operators about it, for the caller to announce to the
/// workers once the change has committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Noticed(pub Vec<MessageId>);

/// The uids of these applications (an application without one maps to `None`; one not found is
/// missing).
pub async fn app_uids(db: &Database, ids: &[AppId]) -> Result<HashMap<AppId, Option<String>>, DbError> {
    let query =
        application::table.filter(application::id.eq_any(ids.to_vec())).select((application::id, application::uid));
    let rows: Vec<(AppId, Option<String>)> = crate::with_conn_retrying!(db, c => query.clone().load(c).await)?;
    Ok(rows.into_iter().collect())
}
