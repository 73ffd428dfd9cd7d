//! Cruds: the feeds that list them (home, a user's, notifications), one crud with its replies,
//! a new crud, and the sweep of expired ones.

use shared::{Activity, Page};
use sqlx::query::QueryAs;
use sqlx::{Encode, FromRow, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::cursor::{PageRequest, from_micros, micros};
use super::super::{RepositoryError, RepositoryResult};
use super::pages::{KeysetRow, bounds, count, fetch_limit, page, parse_uuid};
use super::search::folded;
use super::{SqlRepository, Statement, classify, select};
use crate::database::{Pool, on_pool};

/// The activities of a list, with their authors and reply counts. `$1` is now, `$2` and `$3`
/// the cursor, `$4` how many; a list's own condition uses `$5`.
macro_rules! activities_where {
    ($condition:literal) => {
        concat!(
            "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
             a.likes_count, a.replies_count \
             FROM activities a JOIN users u ON u.handle = a.user_handle \
             WHERE a.expires_at > $1 AND a.created_at <= $2 AND (a.created_at < $2 OR a.uuid < $3) AND ",
            $condition,
            " ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4"
        )
    };
}
pub(super) use activities_where;

pub(super) const HOME: Statement = select("activities", activities_where!("1 = 1"));
/// A user's notifications, read newest first through `notifications_by_time`: the notification
/// holds its crud's time, so the page is found among the user's notifications alone, however
/// few of all cruds they are. `$1` to `$4` as in `activities_where!`, `$5` the user.
pub(super) const NOTIFICATIONS: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, a.replies_count \
     FROM notifications n JOIN activities a ON a.uuid = n.activity_uuid \
     JOIN users u ON u.handle = a.user_handle \
     WHERE n.user_handle = $5 AND a.expires_at > $1 \
     AND n.created_at <= $2 AND (n.created_at < $2 OR n.activity_uuid < $3) \
     ORDER BY n.created_at DESC, n.activity_uuid DESC LIMIT $4",
);
pub(super) const USER_ACTIVITIES: Statement =
    select("activities", activities_where!("a.user_handle = $5"));
/// The feed's version (`Repository::feed_version`): the sum of the counters that triggers move
/// with every write a feed shows (migration 0006), one on SQLite, 16 on PostgreSQL.
const FEED_VERSION: Statement = select(
    "feed_version",
    "SELECT CAST(sum(version) AS BIGINT) FROM feed_version",
);
const ACTIVITY: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, a.replies_count \
     FROM activities a JOIN users u ON u.handle = a.user_handle \
     WHERE a.uuid = $1 AND a.expires_at > $2",
);
const INSERT_ACTIVITY: Statement = Statement {
    operation: "INSERT",
    collection: "activities",
    sql: "INSERT INTO activities (uuid, user_handle, message, created_at, expires_at, \
          message_folded) VALUES ($1, $2, $3, $4, $5, $6)",
};
/// A batch at a time, so no delete holds the database for long.
const DELETE_EXPIRED: &str = "DELETE FROM activities WHERE uuid IN \
     (SELECT uuid FROM activities WHERE expires_at <= $1 LIMIT $2)";
/// On PostgreSQL every instance sweeps: each skips the rows another's batch holds, so they
/// share the work and none waits on another (SQLite, one process, has no such clause).
const DELETE_EXPIRED_POSTGRES: &str = "DELETE FROM activities WHERE uuid IN \
     (SELECT uuid FROM activities WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

#[derive(sqlx::FromRow)]
pub(super) struct ActivityRow {
    pub(super) uuid: String,
    user_handle: String,
    display_name: String,
    message: String,
    created_at: i64,
    expires_at: i64,
    likes_count: i64,
    pub(super) replies_count: i64,
}

impl KeysetRow for ActivityRow {
    fn key(&self) -> (i64, &str) {
        (self.created_at, &self.uuid)
    }
}

impl ActivityRow {
    fn into_activity(self, replies: Vec<shared::Reply>) -> RepositoryResult<Activity> {
        Ok(Activity {
            uuid: parse_uuid(&self.uuid)?,
            display_name: self.display_name,
            handle: self.user_handle,
            message: self.message,
            created_at: from_micros(self.created_at),
            expires_at: from_micros(self.expires_at),
            likes_count: count(self.likes_count),
            replies_count: count(self.replies_count),
            reposts_count: 0,
            replies,
        })
    }
}

/// `statement`'s list query with its bindings, for either database: `arguments` are its `$5`
/// onwards.
pub(super) fn list_query<'q, DB: sqlx::Database>(
    statement: &Statement,
    arguments: &[&str],
    request: PageRequest,
    now: OffsetDateTime,
) -> QueryAs<'q, DB, ActivityRow, DB::Arguments>
where
    ActivityRow: for<'r> FromRow<'r, DB::Row>,
    i64: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
{
    let (before, before_uuid) = bounds(request);
    let query = sqlx::query_as::<DB, ActivityRow>(statement.sql)
        .bind(micros(now))
        .bind(before)
        .bind(before_uuid)
        .bind(fetch_limit(request));
    arguments
        .iter()
        .fold(query, |query, argument| query.bind(argument.to_string()))
}

impl SqlRepository {
    /// A page of the activities `statement` lists, `arguments` its `$5` onwards.
    pub(super) async fn activities(
        &self,
        statement: &Statement,
        arguments: &[&str],
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        let rows = on_pool!(&self.pool, pool => {
            let query = list_query(statement, arguments, request, now).fetch_all(pool);
            self.traced(statement, query).await
        })?;
        self.with_replies(rows, request).await
    }

    /// The page that `rows` (fetched one past it) make, each crud with its latest replies.
    pub(super) async fn with_replies(
        &self,
        rows: Vec<ActivityRow>,
        request: PageRequest,
    ) -> RepositoryResult<Page<Activity>> {
        let (rows, next) = page(rows, request)?;
        let mut replies = self.feed_replies(&rows).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let uuid = parse_uuid(&row.uuid)?;
                // Moved to their crud, in their order, rather than copied.
                let mine = replies
                    .extract_if(.., |reply| reply.reply_to_activity_uuid == uuid)
                    .collect();
                row.into_activity(mine)
            })
            .collect::<RepositoryResult<Vec<_>>>()?;
        Ok(Page { items, next })
    }

    pub(super) async fn feed_version(&self) -> RepositoryResult<i64> {
        on_pool!(&self.pool, pool => {
            let query = sqlx::query_scalar::<_, i64>(FEED_VERSION.sql).fetch_one(pool);
            self.traced(&FEED_VERSION, query).await
        })
    }

    pub(super) async fn find_activity(
        &self,
        uuid: Uuid,
        now: OffsetDateTime,
    ) -> RepositoryResult<Activity> {
        let row = on_pool!(&self.pool, pool => {
            let query = sqlx::query_as::<_, ActivityRow>(ACTIVITY.sql)
                .bind(uuid.to_string())
                .bind(micros(now))
                .fetch_optional(pool);
            self.traced(&ACTIVITY, query).await
        })?
        .ok_or(RepositoryError::ActivityNotFound)?;
        let replies = self.list_replies(uuid, PageRequest::first(), now).await?;
        row.into_activity(replies.items)
    }

    pub(super) async fn insert_activity(
        &self,
        handle: &str,
        message: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> RepositoryResult<Activity> {
        let user = self.user(handle).await?;
        let uuid = Uuid::new_v4();
        let (created_at, expires_at) = (micros(created_at), micros(expires_at));
        on_pool!(&self.pool, pool => {
            let query = sqlx::query(INSERT_ACTIVITY.sql)
                .bind(uuid.to_string())
                .bind(user.handle.clone())
                .bind(message.to_owned())
                .bind(created_at)
                .bind(expires_at)
                .bind(folded(message))
                .execute(pool);
            self.traced(&INSERT_ACTIVITY, query).await.map(drop)
        })?;
        Ok(Activity {
            uuid,
            display_name: user.display_name,
            handle: user.handle,
            message: message.to_owned(),
            created_at: from_micros(created_at),
            expires_at: from_micros(expires_at),
            likes_count: 0,
            replies_count: 0,
            reposts_count: 0,
            replies: Vec::new(),
        })
    }

    /// Untraced: it runs outside any request, and a span of its own every few minutes would
    /// be a trace of its own, with no request to explain it.
    pub(super) async fn delete_expired_batch(
        &self,
        now: OffsetDateTime,
        at_most: u64,
    ) -> RepositoryResult<u64> {
        let statement = match &self.pool {
            Pool::Sqlite(_) => DELETE_EXPIRED,
            Pool::Postgres(_) => DELETE_EXPIRED_POSTGRES,
        };
        on_pool!(&self.pool, pool => {
            sqlx::query(statement)
                .bind(micros(now))
                .bind(i64::try_from(at_most).unwrap_or(i64::MAX))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(classify)
    }
}
