//! Replies: a crud's pages of them, the latest few of each crud in a feed, and a new reply.

use std::sync::LazyLock;

use shared::{PAGE_SIZE, Page, Reply};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::cursor::{PageRequest, from_micros, micros};
use super::super::{RepositoryError, RepositoryResult};
use super::activities::ActivityRow;
use super::pages::{KeysetRow, bounds, fetch_limit, oldest_first, page, parse_uuid};
use super::{SqlRepository, Statement, select};
use crate::database::on_pool;

/// Replies shown with each crud of a feed; the crud's page has its latest page of them.
const FEED_REPLIES: i64 = 3;

const REPLIES: Statement = select(
    "replies",
    "SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, r.created_at \
     FROM replies r JOIN users u ON u.handle = r.user_handle \
     WHERE r.activity_uuid = $1 AND r.created_at <= $2 AND (r.created_at < $2 OR r.uuid < $3) \
     AND EXISTS (SELECT 1 FROM activities a WHERE a.uuid = $1 AND a.expires_at > $5) \
     ORDER BY r.created_at DESC, r.uuid DESC LIMIT $4",
);
/// How many cruds the feed's replies statement comes for: a page's cruds are bound to the
/// smallest that holds them, the rest blank, so a short page binds and looks up a few values
/// rather than a page's worth, and each length is one statement, compiled once.
const FEED_LENGTHS: [usize; 7] = [1, 2, 4, 8, 16, 32, PAGE_SIZE];
const _: () = assert!(PAGE_SIZE > 32, "FEED_LENGTHS ends with the page size");
/// The latest replies of up to `FEED_LENGTHS[i]` activities, `FEED_REPLIES` each: `$1` to
/// `$n` are the activities. Each activity's are read on their own, newest first through
/// `replies_by_activity` and no further than `FEED_REPLIES`, so an activity with many replies
/// costs no more than one with few.
static FEED_REPLIES_SQL: LazyLock<[String; FEED_LENGTHS.len()]> =
    LazyLock::new(|| FEED_LENGTHS.map(feed_replies_sql));

fn feed_replies_sql(length: usize) -> String {
    let latest: Vec<String> = (1..=length)
        .map(|n| {
            format!(
                "SELECT uuid FROM (SELECT uuid FROM replies WHERE activity_uuid = ${n} \
                 ORDER BY created_at DESC, uuid DESC LIMIT {FEED_REPLIES}) AS latest_{n}"
            )
        })
        .collect();
    format!(
        "SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, r.created_at \
         FROM replies r JOIN users u ON u.handle = r.user_handle \
         WHERE r.uuid IN ({}) ORDER BY r.created_at, r.uuid",
        latest.join(" UNION ALL ")
    )
}
/// Inserts nothing when the activity is missing or expired.
const INSERT_REPLY: Statement = Statement {
    operation: "INSERT",
    collection: "replies",
    sql: "INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at) \
          SELECT $1, a.uuid, $3, $4, $5 FROM activities a WHERE a.uuid = $2 AND a.expires_at > $5",
};

#[derive(sqlx::FromRow)]
struct ReplyRow {
    uuid: String,
    activity_uuid: String,
    user_handle: String,
    display_name: String,
    message: String,
    created_at: i64,
}

impl KeysetRow for ReplyRow {
    fn key(&self) -> (i64, &str) {
        (self.created_at, &self.uuid)
    }
}

impl ReplyRow {
    fn into_reply(self) -> RepositoryResult<Reply> {
        Ok(Reply {
            uuid: parse_uuid(&self.uuid)?,
            reply_to_activity_uuid: parse_uuid(&self.activity_uuid)?,
            display_name: self.display_name,
            handle: self.user_handle,
            message: self.message,
            created_at: from_micros(self.created_at),
            likes_count: 0,
            replies_count: 0,
            reposts_count: 0,
        })
    }
}

impl SqlRepository {
    pub(super) async fn list_replies(
        &self,
        activity_uuid: Uuid,
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Reply>> {
        let (before, before_uuid) = bounds(request);
        let rows = on_pool!(&self.pool, pool => {
            let query = sqlx::query_as::<_, ReplyRow>(REPLIES.sql)
                .bind(activity_uuid.to_string())
                .bind(before)
                .bind(before_uuid)
                .bind(fetch_limit(request))
                .bind(micros(now))
                .fetch_all(pool);
            self.traced(&REPLIES, query).await
        })?;
        let (rows, next) = page(rows, request)?;
        let items = oldest_first(rows, ReplyRow::into_reply)?;
        Ok(Page { items, next })
    }

    /// The latest few replies of each activity, in one query.
    pub(super) async fn feed_replies(
        &self,
        activities: &[ActivityRow],
    ) -> RepositoryResult<Vec<Reply>> {
        if activities.iter().all(|row| row.replies_count == 0) {
            return Ok(Vec::new());
        }
        // Named like every statement; its texts are built once.
        const STATEMENT: Statement = select("replies", "");
        let fits = FEED_LENGTHS
            .iter()
            .position(|&length| length >= activities.len())
            .unwrap_or(FEED_LENGTHS.len() - 1);
        let sql: &'static str = FEED_REPLIES_SQL[fits].as_str();
        let rows = on_pool!(&self.pool, pool => {
            let mut query = sqlx::query_as::<_, ReplyRow>(AssertSqlSafe(sql));
            for n in 0..FEED_LENGTHS[fits] {
                query = query.bind(
                    activities
                        .get(n)
                        .map(|row| row.uuid.clone())
                        .unwrap_or_default(),
                );
            }
            let query = query.fetch_all(pool);
            self.traced_text(&STATEMENT, sql, query).await
        })?;
        rows.into_iter().map(ReplyRow::into_reply).collect()
    }

    pub(super) async fn insert_reply(
        &self,
        activity_uuid: Uuid,
        handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Reply> {
        let user = self.user(handle).await?;
        let uuid = Uuid::new_v4();
        let created_at = micros(now);
        let inserted = on_pool!(&self.pool, pool => {
            let query = sqlx::query(INSERT_REPLY.sql)
                .bind(uuid.to_string())
                .bind(activity_uuid.to_string())
                .bind(user.handle.clone())
                .bind(message.to_owned())
                .bind(created_at)
                .execute(pool);
            self.traced(&INSERT_REPLY, query)
                .await
                .map(|done| done.rows_affected())
        })?;
        if inserted == 0 {
            return Err(RepositoryError::ActivityNotFound);
        }
        Ok(Reply {
            uuid,
            reply_to_activity_uuid: activity_uuid,
            display_name: user.display_name,
            handle: user.handle,
            message: message.to_owned(),
            created_at: from_micros(created_at),
            likes_count: 0,
            replies_count: 0,
            reposts_count: 0,
        })
    }
}
