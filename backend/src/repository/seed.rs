//! Cruddur's week-2 seed data: cruds, a reply, a notification and two conversations, dated
//! relative to the moment they are inserted as the seeds date theirs. The users themselves come
//! with the schema (the migrations): there is no sign-up yet.

use shared::ACTING_USER_HANDLE;
use time::{Duration, OffsetDateTime};
use uuid::{Uuid, uuid};

use super::RepositoryResult;
use super::cursor::micros;
use super::sql::{SqlRepository, classify, folded};
use crate::database::on_pool;

const CLOUD_IS_FUN: Uuid = uuid!("68f126b0-1ceb-4a33-88be-d90fa7109eee");
const UNICORN: Uuid = uuid!("a1b3d2c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
const WORF_CONVERSATION: Uuid = uuid!("24b95582-9e7b-4e0a-9ad1-639773ab7552");
const GAREK_CONVERSATION: Uuid = uuid!("417c360e-c4e6-4fce-873b-d2d71469b4ac");

/// uuid, author, message, age, lifetime, likes. The unicorn is a minute older than Andrew's
/// crud, so the feed's order does not hang on how their uuids compare.
const ACTIVITIES: [(Uuid, &str, &str, Duration, Duration, i64); 4] = [
    (
        CLOUD_IS_FUN,
        ACTING_USER_HANDLE,
        "Cloud is very fun!",
        Duration::days(2),
        Duration::days(5),
        5,
    ),
    (
        uuid!("66e12864-8c26-4c3a-9658-95a10f8fea67"),
        "worf",
        "I am out of prune juice",
        Duration::days(7),
        Duration::days(9),
        0,
    ),
    (
        uuid!("248959df-3079-4947-b847-9e0892d1bab4"),
        "garek",
        "My dear doctor, I am just simple tailor",
        Duration::hours(1),
        Duration::hours(12),
        0,
    ),
    (
        UNICORN,
        "coco",
        "I am white unicorn",
        Duration::minutes(2 * 24 * 60 + 1),
        Duration::days(5),
        5,
    ),
];

/// uuid, conversation, sender, message, age.
const MESSAGES: [(Uuid, Uuid, &str, &str, Duration); 3] = [
    (
        uuid!("4e81c06a-db0f-4281-b4cc-98208537772a"),
        WORF_CONVERSATION,
        ACTING_USER_HANDLE,
        "Cloud is fun!",
        Duration::minutes(30),
    ),
    (
        uuid!("66e12864-8c26-4c3a-9658-95a10f8fea68"),
        WORF_CONVERSATION,
        ACTING_USER_HANDLE,
        "This platform is great!",
        Duration::minutes(29),
    ),
    (
        uuid!("0f1d8e2a-7c3b-4d5e-9f60-718293a4b5c6"),
        GAREK_CONVERSATION,
        "garek",
        "Lies are the foundation of any good conversation, doctor.",
        Duration::hours(3),
    ),
];

impl SqlRepository {
    /// Inserts the seed data when the database holds no activity and no conversation; says
    /// whether it did. Untraced, like everything at startup: no request asked for it.
    pub async fn seed_if_empty(&self, now: OffsetDateTime) -> RepositoryResult<bool> {
        on_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await.map_err(classify)?;
            // A write first, so SQLite takes its write lock now: two processes starting on one
            // file seed it once.
            sqlx::query("UPDATE users SET display_name = display_name WHERE handle = $1")
                .bind(ACTING_USER_HANDLE)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            let stored: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM activities) OR EXISTS (SELECT 1 FROM conversations)",
            )
            .fetch_one(&mut *transaction)
            .await
            .map_err(classify)?;
            if stored {
                return Ok(false);
            }
            for (uuid, handle, message, age, lifetime, likes) in ACTIVITIES {
                sqlx::query(
                    "INSERT INTO activities (uuid, user_handle, message, created_at, expires_at, likes_count, \
                     message_folded) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(uuid.to_string())
                .bind(handle)
                .bind(message)
                .bind(micros(now - age))
                .bind(micros(now + lifetime))
                .bind(likes)
                .bind(folded(message))
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            }
            sqlx::query("INSERT INTO notifications (activity_uuid, user_handle) VALUES ($1, $2)")
                .bind(UNICORN.to_string())
                .bind(ACTING_USER_HANDLE)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            sqlx::query(
                "INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind("26e12864-1c26-5c3a-9658-97a10f8fea67")
            .bind(CLOUD_IS_FUN.to_string())
            .bind("worf")
            .bind("This post has no honor!")
            .bind(micros(now - Duration::days(2) + Duration::hours(1)))
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
            for (conversation, other) in [(WORF_CONVERSATION, "worf"), (GAREK_CONVERSATION, "garek")] {
                let latest = MESSAGES
                    .iter()
                    .filter(|message| message.1 == conversation)
                    .map(|message| micros(now - message.4))
                    .max()
                    .unwrap_or_default();
                sqlx::query(
                    "INSERT INTO conversations (uuid, first_handle, second_handle, last_message_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(conversation.to_string())
                .bind(ACTING_USER_HANDLE.min(other))
                .bind(ACTING_USER_HANDLE.max(other))
                .bind(latest)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            }
            for (uuid, conversation, sender, message, age) in MESSAGES {
                sqlx::query(
                    "INSERT INTO messages (uuid, conversation_uuid, sender_handle, message, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(uuid.to_string())
                .bind(conversation.to_string())
                .bind(sender)
                .bind(message)
                .bind(micros(now - age))
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            }
            transaction.commit().await.map_err(classify)?;
        });
        Ok(true)
    }
}
