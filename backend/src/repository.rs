//! Where Cruddur's data lives, behind a trait so that a database can take the in-memory
//! store's place without the routes noticing.

mod in_memory;

use async_trait::async_trait;
use shared::{Activity, Message, MessageGroup, Reply};
use time::OffsetDateTime;
use uuid::Uuid;

pub use in_memory::InMemoryRepository;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    #[error("no such user")]
    UserNotFound,
    #[error("no such activity, or it has expired")]
    ActivityNotFound,
}

pub type RepositoryResult<T> = Result<T, RepositoryError>;

/// Feeds hold only activities that have not expired at `now`, newest first.
#[async_trait]
pub trait Repository: Send + Sync + 'static {
    async fn home_activities(&self, now: OffsetDateTime) -> RepositoryResult<Vec<Activity>>;
    /// Activities that concern `handle`.
    async fn notification_activities(
        &self,
        handle: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>>;
    async fn user_activities(
        &self,
        handle: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>>;
    /// Activities whose message contains `term`, ignoring case.
    async fn search_activities(
        &self,
        term: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>>;
    async fn activity(&self, uuid: Uuid, now: OffsetDateTime) -> RepositoryResult<Activity>;
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
    async fn message_groups(&self, handle: &str) -> RepositoryResult<Vec<MessageGroup>>;
    /// The conversation between two users, oldest message first.
    async fn messages(&self, handle: &str, other_handle: &str) -> RepositoryResult<Vec<Message>>;
    async fn create_message(
        &self,
        sender_handle: &str,
        receiver_handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Message>;
}
