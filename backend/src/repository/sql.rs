//! The repository on SQLite or PostgreSQL: one set of runtime-checked queries, with `$N`
//! parameters, which both databases read (sqlx binds SQLite's by their number), run through
//! the typed pool the database opened (`database::on_pool!`). Split by feature; every query is
//! a CLIENT span (`spans`).

mod activities;
mod messages;
mod pages;
mod replies;
mod search;
mod spans;
mod users;

use async_trait::async_trait;
use opentelemetry::KeyValue;
use shared::{Activity, Message, MessageGroup, Page, Reply};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::cursor::PageRequest;
use super::{Repository, RepositoryError, RepositoryResult};
use crate::database::{Database, Pool, SEARCH_CONNECTIONS};
use activities::{HOME, NOTIFICATIONS, USER_ACTIVITIES};
pub(super) use search::folded;
pub(super) use spans::{span_attributes, traced_query};

/// One query: its text and what its span is named after.
pub(super) struct Statement {
    pub(super) operation: &'static str,
    pub(super) collection: &'static str,
    pub(super) sql: &'static str,
}

const fn select(collection: &'static str, sql: &'static str) -> Statement {
    Statement {
        operation: "SELECT",
        collection,
        sql,
    }
}

/// A database error as the repository reports it: waiting and retrying helps when the
/// database cannot be reached or is locked, and nothing else.
pub(super) fn classify(error: sqlx::Error) -> RepositoryError {
    let unavailable = match &error {
        // Protocol: a connection cut mid-conversation reads as data the protocol never sends.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            // SQLite, with its extended codes (in the low byte): BUSY, LOCKED, READONLY,
            // INTERRUPT (a statement past its limit), IOERR, CORRUPT, CANTOPEN, FULL, NOTADB. PostgreSQL: connection exceptions, a read-only
            // transaction (a standby), insufficient resources (a full disk among them),
            // operator intervention (such as a shutdown), corrupt data or index.
            let sqlite = code
                .parse::<i32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 9 | 10 | 11 | 13 | 14 | 26));
            sqlite
                || ["08", "53", "57", "25006", "XX001", "XX002"]
                    .iter()
                    .any(|prefix| code.starts_with(prefix))
        }),
        _ => false,
    };
    if unavailable {
        RepositoryError::Unavailable(error.to_string())
    } else {
        RepositoryError::Failed(error.to_string())
    }
}

pub struct SqlRepository {
    pub(super) pool: Pool,
    /// One health probe at a time: a flood of health checks holds one connection at most.
    health_probe: Semaphore,
    /// The database's attributes, the same on every query's span.
    span_attributes: Vec<KeyValue>,
    /// A permit for each search that may hold a connection at once (`SEARCH_CONNECTIONS`).
    searches: Semaphore,
}

impl SqlRepository {
    pub fn new(database: Database) -> Self {
        SqlRepository {
            pool: database.pool,
            health_probe: Semaphore::new(1),
            span_attributes: span_attributes(&database.info),
            searches: Semaphore::new(SEARCH_CONNECTIONS),
        }
    }
}

#[async_trait]
impl Repository for SqlRepository {
    async fn home_activities(
        &self,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        self.activities(&HOME, &[], page, now).await
    }

    async fn feed_version(&self) -> RepositoryResult<i64> {
        self.feed_version().await
    }

    async fn notification_activities(
        &self,
        handle: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        let user = self.user(handle).await?;
        self.activities(&NOTIFICATIONS, &[&user.handle], page, now)
            .await
    }

    async fn user_activities(
        &self,
        handle: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        let user = self.user(handle).await?;
        self.activities(&USER_ACTIVITIES, &[&user.handle], page, now)
            .await
    }

    async fn search_activities(
        &self,
        term: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        self.search(term, page, now).await
    }

    async fn activity(&self, uuid: Uuid, now: OffsetDateTime) -> RepositoryResult<Activity> {
        self.find_activity(uuid, now).await
    }

    async fn replies(
        &self,
        activity_uuid: Uuid,
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Reply>> {
        self.list_replies(activity_uuid, request, now).await
    }

    async fn create_activity(
        &self,
        handle: &str,
        message: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> RepositoryResult<Activity> {
        self.insert_activity(handle, message, created_at, expires_at)
            .await
    }

    async fn create_reply(
        &self,
        activity_uuid: Uuid,
        handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Reply> {
        self.insert_reply(activity_uuid, handle, message, now).await
    }

    async fn message_groups(
        &self,
        handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<MessageGroup>> {
        self.list_message_groups(handle, request).await
    }

    async fn messages(
        &self,
        handle: &str,
        other_handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<Message>> {
        self.list_messages(handle, other_handle, request).await
    }

    async fn create_message(
        &self,
        sender_handle: &str,
        receiver_handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Message> {
        self.insert_message(sender_handle, receiver_handle, message, now)
            .await
    }

    async fn delete_expired(&self, now: OffsetDateTime, at_most: u64) -> RepositoryResult<u64> {
        self.delete_expired_batch(now, at_most).await
    }

    async fn check_health(&self) -> RepositoryResult<()> {
        self.probe_health().await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::settings::DatabaseLocation;

    /// How many times SQLite compiled `statement` again (`sqlite3Reprepare`) and how many times
    /// it ran, over every connection of the pool, from the bundled build's `sqlite_stmt` table.
    async fn recompiled_and_runs(pool: &sqlx::SqlitePool, statement: &str) -> (i64, i64) {
        let mut connections = Vec::new();
        for _ in 0..pool.size() {
            connections.push(pool.acquire().await.unwrap());
        }
        let mut totals = (0, 0);
        for connection in &mut connections {
            let (reprepared, runs): (i64, i64) = sqlx::query_as(
                "SELECT COALESCE(SUM(reprep), 0), COALESCE(SUM(run), 0) FROM sqlite_stmt \
                 WHERE sql = $1",
            )
            .bind(statement)
            .fetch_one(&mut **connection)
            .await
            .unwrap();
            totals = (totals.0 + reprepared, totals.1 + runs);
        }
        totals
    }

    #[tokio::test]
    async fn a_feed_statement_is_compiled_once_whatever_page_it_reads() {
        let directory = tempfile::tempdir().unwrap();
        let location = DatabaseLocation::Sqlite(directory.path().join("cruddur.db"));
        let repository = SqlRepository::new(Database::open(&location).await.unwrap());
        let now = OffsetDateTime::now_utc();
        repository.seed_if_empty(now).await.unwrap();
        for limit in [1, 2, 5, 50, 5, 2, 1, 50] {
            let first = PageRequest::new(None, Some(limit));
            let page = repository.home_activities(first, now).await.unwrap();
            let next = page.next.map(|next| next.parse().unwrap());
            let second = PageRequest::new(next, Some(limit));
            repository.home_activities(second, now).await.unwrap();
        }
        let Pool::Sqlite(pool) = &repository.pool else {
            panic!("a file opens as SQLite")
        };
        let (recompiled, runs) = recompiled_and_runs(pool, HOME.sql).await;
        // A run counts once its statement is reset, which each connection's last may not be
        // yet: fewer than the 16 executions show.
        assert!(runs > 0, "the statement ran");
        assert_eq!(recompiled, 0, "compiled again over {runs} runs");
    }
}
