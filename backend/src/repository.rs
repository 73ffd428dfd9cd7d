//! Where Cruddur's data lives, behind a trait so that the routes neither know nor care which
//! database keeps it.

mod cursor;
mod seed;
mod sql;
mod write_budgets;

use async_trait::async_trait;
use shared::{Activity, Message, MessageGroup, Page, Reply};
use time::OffsetDateTime;
use uuid::Uuid;

pub use cursor::{Cursor, PageRequest};
pub use sql::SqlRepository;
pub use write_budgets::SharedWriteBudgets;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    #[error("no such user")]
    UserNotFound,
    #[error("no such activity, or it has expired")]
    ActivityNotFound,
    /// The database cannot be reached, or stays locked: worth retrying shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database failed: {0}")]
    Failed(String),
}

pub type RepositoryResult<T> = Result<T, RepositoryError>;

/// Lists hold only activities that have not expired at `now`. Every list is one page of at
/// most `PageRequest::limit` items, the newest first, older ones behind its `next` cursor;
/// conversations and replies show their page oldest first, as they are read.
#[async_trait]
pub trait Repository: Send + Sync + 'static {
    async fn home_activities(
        &self,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>>;
    /// A number that moves, committed with the write, whenever what a feed shows may have
    /// changed: a page read after it is current while it stays the same.
    async fn feed_version(&self) -> RepositoryResult<i64>;
    /// Activities that concern `handle`.
    async fn notification_activities(
        &self,
        handle: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>>;
    async fn user_activities(
        &self,
        handle: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>>;
    /// Activities whose message contains `term`, ignoring case.
    async fn search_activities(
        &self,
        term: &str,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>>;
    /// One activity with its latest page of replies.
    async fn activity(&self, uuid: Uuid, now: OffsetDateTime) -> RepositoryResult<Activity>;
    async fn replies(
        &self,
        activity_uuid: Uuid,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Reply>>;
    async fn create_activity(
        &self,
        handle: &str,
        message: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> RepositoryResult<Activity>;
    async fn create_reply(
        &self,
        activity_uuid: Uuid,
        handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Reply>;
    /// `handle`'s conversations, the most recently active first.
    async fn message_groups(
        &self,
        handle: &str,
        page: PageRequest,
    ) -> RepositoryResult<Page<MessageGroup>>;
    /// The conversation between two users.
    async fn messages(
        &self,
        handle: &str,
        other_handle: &str,
        page: PageRequest,
    ) -> RepositoryResult<Page<Message>>;
    async fn create_message(
        &self,
        sender_handle: &str,
        receiver_handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Message>;
    /// Deletes at most `at_most` activities expired at `now`, with their replies; returns how
    /// many went. One batch: the caller decides whether another follows.
    async fn delete_expired(&self, now: OffsetDateTime, at_most: u64) -> RepositoryResult<u64>;
    /// Whether the database answers and would take a write, without writing.
    async fn check_health(&self) -> RepositoryResult<()>;
    /// Refuses every query from now on, then waits for the connections in use to come back:
    /// once it returns, no write can commit.
    async fn close(&self);
}
