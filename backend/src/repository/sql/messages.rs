//! Direct messages: a user's conversations, one conversation's messages, and a new message.

use shared::{Message, MessageGroup, Page};
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::RepositoryResult;
use super::super::cursor::{PageRequest, from_micros, micros};
use super::pages::{KeysetRow, bounds, fetch_limit, oldest_first, page, parse_uuid};
use super::{SqlRepository, Statement, classify, select};
use crate::database::on_pool;

const MESSAGE_GROUPS: Statement = select(
    "conversations",
    "SELECT c.uuid, c.last_message_at, u.handle, u.display_name, \
     (SELECT m.message FROM messages m WHERE m.conversation_uuid = c.uuid \
      ORDER BY m.created_at DESC, m.uuid DESC LIMIT 1) AS message \
     FROM conversations c JOIN users u \
     ON u.handle = CASE WHEN c.first_handle = $1 THEN c.second_handle ELSE c.first_handle END \
     WHERE (c.first_handle = $1 OR c.second_handle = $1) \
     AND c.last_message_at <= $2 AND (c.last_message_at < $2 OR c.uuid < $3) \
     ORDER BY c.last_message_at DESC, c.uuid DESC LIMIT $4",
);
const MESSAGES: Statement = select(
    "messages",
    "SELECT m.uuid, m.sender_handle, u.display_name, m.message, m.created_at \
     FROM messages m JOIN users u ON u.handle = m.sender_handle \
     WHERE m.conversation_uuid = \
     (SELECT c.uuid FROM conversations c WHERE c.first_handle = $1 AND c.second_handle = $2) \
     AND m.created_at <= $3 AND (m.created_at < $3 OR m.uuid < $4) \
     ORDER BY m.created_at DESC, m.uuid DESC LIMIT $5",
);
/// The pair's conversation, created by its first message; its latest time moves forward only.
const UPSERT_CONVERSATION: Statement = Statement {
    operation: "INSERT",
    collection: "conversations",
    sql: "INSERT INTO conversations (uuid, first_handle, second_handle, last_message_at) \
          VALUES ($1, $2, $3, $4) ON CONFLICT (first_handle, second_handle) DO UPDATE SET \
          last_message_at = CASE WHEN conversations.last_message_at > excluded.last_message_at \
          THEN conversations.last_message_at ELSE excluded.last_message_at END \
          RETURNING uuid",
};
const INSERT_MESSAGE: Statement = Statement {
    operation: "INSERT",
    collection: "messages",
    sql: "INSERT INTO messages (uuid, conversation_uuid, sender_handle, message, created_at) \
          VALUES ($1, $2, $3, $4, $5)",
};

#[derive(sqlx::FromRow)]
struct MessageGroupRow {
    uuid: String,
    last_message_at: i64,
    handle: String,
    display_name: String,
    message: Option<String>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    uuid: String,
    sender_handle: String,
    display_name: String,
    message: String,
    created_at: i64,
}

impl KeysetRow for MessageGroupRow {
    fn key(&self) -> (i64, &str) {
        (self.last_message_at, &self.uuid)
    }
}

impl KeysetRow for MessageRow {
    fn key(&self) -> (i64, &str) {
        (self.created_at, &self.uuid)
    }
}

impl MessageRow {
    fn into_message(self) -> RepositoryResult<Message> {
        Ok(Message {
            uuid: parse_uuid(&self.uuid)?,
            display_name: self.display_name,
            handle: self.sender_handle,
            message: self.message,
            created_at: from_micros(self.created_at),
        })
    }
}

/// A conversation's members in its stored order, the lesser handle first.
fn members(one: String, other: String) -> (String, String) {
    if one <= other {
        (one, other)
    } else {
        (other, one)
    }
}

impl SqlRepository {
    pub(super) async fn list_message_groups(
        &self,
        handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<MessageGroup>> {
        let user = self.user(handle).await?;
        let (before, before_uuid) = bounds(request);
        let rows = on_pool!(&self.pool, pool => {
            let query = sqlx::query_as::<_, MessageGroupRow>(MESSAGE_GROUPS.sql)
                .bind(user.handle)
                .bind(before)
                .bind(before_uuid)
                .bind(fetch_limit(request))
                .fetch_all(pool);
            self.traced(&MESSAGE_GROUPS, query).await
        })?;
        let (rows, next) = page(rows, request)?;
        let items = rows
            .into_iter()
            .map(|row| {
                Ok(MessageGroup {
                    uuid: parse_uuid(&row.uuid)?,
                    display_name: row.display_name,
                    handle: row.handle,
                    message: row.message.unwrap_or_default(),
                    created_at: from_micros(row.last_message_at),
                })
            })
            .collect::<RepositoryResult<_>>()?;
        Ok(Page { items, next })
    }

    pub(super) async fn list_messages(
        &self,
        handle: &str,
        other_handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<Message>> {
        let (user, other) = (self.user(handle).await?, self.user(other_handle).await?);
        let (first, second) = members(user.handle, other.handle);
        let (before, before_uuid) = bounds(request);
        let rows = on_pool!(&self.pool, pool => {
            let query = sqlx::query_as::<_, MessageRow>(MESSAGES.sql)
                .bind(first)
                .bind(second)
                .bind(before)
                .bind(before_uuid)
                .bind(fetch_limit(request))
                .fetch_all(pool);
            self.traced(&MESSAGES, query).await
        })?;
        let (rows, next) = page(rows, request)?;
        let items = oldest_first(rows, MessageRow::into_message)?;
        Ok(Page { items, next })
    }

    pub(super) async fn insert_message(
        &self,
        sender_handle: &str,
        receiver_handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Message> {
        let sender = self.user(sender_handle).await?;
        let receiver = self.user(receiver_handle).await?;
        let (first, second) = members(sender.handle.clone(), receiver.handle);
        let created_at = micros(now);
        let uuid = Uuid::new_v4();
        on_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await.map_err(classify)?;
            // Writes first: SQLite takes its write lock (waiting its busy timeout) at the first
            // write.
            let conversation = sqlx::query_scalar::<_, String>(UPSERT_CONVERSATION.sql)
                .bind(Uuid::new_v4().to_string())
                .bind(first)
                .bind(second)
                .bind(created_at)
                .fetch_one(&mut *transaction);
            let conversation = self.traced(&UPSERT_CONVERSATION, conversation).await?;
            let insert = sqlx::query(INSERT_MESSAGE.sql)
                .bind(uuid.to_string())
                .bind(conversation)
                .bind(sender.handle.clone())
                .bind(message.to_owned())
                .bind(created_at)
                .execute(&mut *transaction);
            self.traced(&INSERT_MESSAGE, insert).await?;
            transaction.commit().await.map_err(classify)?;
        });
        Ok(Message {
            uuid,
            display_name: sender.display_name,
            handle: sender.handle,
            message: message.to_owned(),
            created_at: from_micros(created_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_has_one_order_of_members_whoever_starts_it() {
        let pair = members("worf".into(), "andrewbrown".into());
        assert_eq!(pair, members("andrewbrown".into(), "worf".into()));
        assert_eq!(pair.0, "andrewbrown");
    }
}
