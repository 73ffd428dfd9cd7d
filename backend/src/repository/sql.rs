//! The repository on SQLite or PostgreSQL: one set of runtime-checked queries through sqlx's
//! `any` driver, with `$N` parameters, which both databases read (sqlx binds SQLite's by their
//! number). Every query is a CLIENT span named after its operation and table, carrying the
//! statement with its placeholders, never the values.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use shared::{Activity, Message, MessageGroup, PAGE_SIZE, Page, Reply};
use sqlx::{AnyPool, AssertSqlSafe};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

use super::cursor::{Cursor, PageRequest, from_micros, micros};
use super::{Repository, RepositoryError, RepositoryResult};
use crate::database::{Database, DatabaseInfo, DatabaseSystem, SEARCH_CONNECTIONS, WAIT};

/// Replies shown with each crud of a feed; the crud's page has its latest page of them.
const FEED_REPLIES: i64 = 3;

/// One query: its text and what its span is named after.
struct Statement {
    operation: &'static str,
    collection: &'static str,
    sql: &'static str,
}

/// The activities of a list, with their authors and reply counts. `$1` is now, `$2` and `$3`
/// the cursor, `$4` how many; a list's own condition uses `$5`.
macro_rules! activities_where {
    ($condition:literal) => {
        concat!(
            "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
             a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count \
             FROM activities a JOIN users u ON u.handle = a.user_handle \
             WHERE a.expires_at > $1 AND (a.created_at < $2 OR (a.created_at = $2 AND a.uuid < $3)) AND ",
            $condition,
            " ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4"
        )
    };
}

const fn select(collection: &'static str, sql: &'static str) -> Statement {
    Statement {
        operation: "SELECT",
        collection,
        sql,
    }
}

const HOME: Statement = select("activities", activities_where!("1 = 1"));
const NOTIFICATIONS: Statement = select(
    "activities",
    activities_where!(
        "a.uuid IN (SELECT n.activity_uuid FROM notifications n WHERE n.user_handle = $5)"
    ),
);
const USER_ACTIVITIES: Statement = select("activities", activities_where!("a.user_handle = $5"));
/// Search by reading cruds newest first: for a term too short for the trigram index. `$5` is
/// the term as a LIKE pattern (`contains_pattern`).
const SEARCH_SCAN: Statement = select(
    "activities",
    activities_where!("a.message_folded LIKE $5 ESCAPE '\\'"),
);
/// Search among the newest cruds after the cursor (the `LIMIT` of the inner query), `$5` as in
/// `SEARCH_SCAN`: a term found in more than a page's worth of them fills its page there, where
/// the index would name every crud holding it, to be sorted.
const SEARCH_RECENT: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count \
     FROM (SELECT uuid, user_handle, message, message_folded, created_at, expires_at, likes_count \
     FROM activities WHERE expires_at > $1 AND (created_at < $2 OR (created_at = $2 AND uuid < $3)) \
     ORDER BY created_at DESC, uuid DESC LIMIT 1000) a \
     JOIN users u ON u.handle = a.user_handle \
     WHERE a.message_folded LIKE $5 ESCAPE '\\' ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4",
);
/// Search through SQLite's trigram index (`activities_search`, FTS5): `$6` asks it for the cruds
/// holding the term's trigrams (`trigram_query`), and `$5` keeps those holding the whole term.
/// The index is read first (`CROSS JOIN` fixes the order), as the time index would read every
/// crud.
const SEARCH_INDEXED_SQLITE: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count \
     FROM activities_search s CROSS JOIN activities a ON a.rowid = s.rowid \
     JOIN users u ON u.handle = a.user_handle \
     WHERE s.activities_search MATCH $6 AND a.message_folded LIKE $5 ESCAPE '\\' \
     AND a.expires_at > $1 AND (a.created_at < $2 OR (a.created_at = $2 AND a.uuid < $3)) \
     ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4",
);
/// Search through PostgreSQL's trigram index (`activities_search`, pg_trgm's GIN), `$5` as in
/// `SEARCH_SCAN`. The matches are found apart (`MATERIALIZED`), so the index reads them
/// whichever plan the rest gets, as the time index would read every crud.
const SEARCH_INDEXED_POSTGRES: Statement = select(
    "activities",
    "WITH found AS MATERIALIZED (SELECT uuid FROM activities WHERE message_folded LIKE $5) \
     SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count \
     FROM activities a JOIN users u ON u.handle = a.user_handle \
     WHERE a.uuid IN (SELECT uuid FROM found) \
     AND a.expires_at > $1 AND (a.created_at < $2 OR (a.created_at = $2 AND a.uuid < $3)) \
     ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4",
);
const ACTIVITY: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count \
     FROM activities a JOIN users u ON u.handle = a.user_handle \
     WHERE a.uuid = $1 AND a.expires_at > $2",
);
const USER: Statement = select(
    "users",
    "SELECT handle, display_name FROM users WHERE handle = $1",
);
const REPLIES: Statement = select(
    "replies",
    "SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, r.created_at \
     FROM replies r JOIN users u ON u.handle = r.user_handle \
     WHERE r.activity_uuid = $1 AND (r.created_at < $2 OR (r.created_at = $2 AND r.uuid < $3)) \
     AND EXISTS (SELECT 1 FROM activities a WHERE a.uuid = $1 AND a.expires_at > $5) \
     ORDER BY r.created_at DESC, r.uuid DESC LIMIT $4",
);
/// The latest replies of a page of activities, `FEED_REPLIES` each: `$1` to `$50` are the
/// activities (unused ones blank), `$51` how many each.
static FEED_REPLIES_SQL: LazyLock<String> = LazyLock::new(|| {
    let activities: Vec<String> = (1..=PAGE_SIZE).map(|n| format!("${n}")).collect();
    format!(
        "SELECT uuid, activity_uuid, user_handle, display_name, message, created_at FROM (\
         SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, r.created_at, \
         ROW_NUMBER() OVER (PARTITION BY r.activity_uuid ORDER BY r.created_at DESC, r.uuid DESC) AS newest \
         FROM replies r JOIN users u ON u.handle = r.user_handle \
         WHERE r.activity_uuid IN ({})) ranked \
         WHERE newest <= ${} ORDER BY created_at, uuid",
        activities.join(", "),
        PAGE_SIZE + 1
    )
});
const MESSAGE_GROUPS: Statement = select(
    "conversations",
    "SELECT c.uuid, c.last_message_at, u.handle, u.display_name, \
     (SELECT m.message FROM messages m WHERE m.conversation_uuid = c.uuid \
      ORDER BY m.created_at DESC, m.uuid DESC LIMIT 1) AS message \
     FROM conversations c JOIN users u \
     ON u.handle = CASE WHEN c.first_handle = $1 THEN c.second_handle ELSE c.first_handle END \
     WHERE (c.first_handle = $1 OR c.second_handle = $1) \
     AND (c.last_message_at < $2 OR (c.last_message_at = $2 AND c.uuid < $3)) \
     ORDER BY c.last_message_at DESC, c.uuid DESC LIMIT $4",
);
const MESSAGES: Statement = select(
    "messages",
    "SELECT m.uuid, m.sender_handle, u.display_name, m.message, m.created_at \
     FROM messages m JOIN users u ON u.handle = m.sender_handle \
     WHERE m.conversation_uuid = \
     (SELECT c.uuid FROM conversations c WHERE c.first_handle = $1 AND c.second_handle = $2) \
     AND (m.created_at < $3 OR (m.created_at = $3 AND m.uuid < $4)) \
     ORDER BY m.created_at DESC, m.uuid DESC LIMIT $5",
);
const INSERT_ACTIVITY: Statement = Statement {
    operation: "INSERT",
    collection: "activities",
    sql: "INSERT INTO activities (uuid, user_handle, message, created_at, expires_at, \
          message_folded) VALUES ($1, $2, $3, $4, $5, $6)",
};
/// Inserts nothing when the activity is missing or expired.
const INSERT_REPLY: Statement = Statement {
    operation: "INSERT",
    collection: "replies",
    sql: "INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at) \
          SELECT $1, a.uuid, $3, $4, $5 FROM activities a WHERE a.uuid = $2 AND a.expires_at > $5",
};
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
/// The health check's write: the first user's name set to itself, then rolled back.
const HEALTH_PROBE: &str = "UPDATE users SET display_name = display_name \
     WHERE handle = (SELECT MIN(handle) FROM users)";
/// A batch at a time, so no delete holds the database for long.
const DELETE_EXPIRED: &str = "DELETE FROM activities WHERE uuid IN \
     (SELECT uuid FROM activities WHERE expires_at <= $1 LIMIT $2)";

#[derive(sqlx::FromRow)]
struct ActivityRow {
    uuid: String,
    user_handle: String,
    display_name: String,
    message: String,
    created_at: i64,
    expires_at: i64,
    likes_count: i64,
    replies_count: i64,
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    uuid: String,
    activity_uuid: String,
    user_handle: String,
    display_name: String,
    message: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    handle: String,
    display_name: String,
}

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

fn parse_uuid(text: &str) -> RepositoryResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| RepositoryError::Failed(format!("a stored uuid is {text:?}")))
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A row in keyset order: its time and uuid are where a page ending at it continues.
trait KeysetRow {
    fn key(&self) -> (i64, &str);

    fn cursor(&self) -> RepositoryResult<Cursor> {
        let (micros, uuid) = self.key();
        Ok(Cursor {
            micros,
            uuid: parse_uuid(uuid)?,
        })
    }
}

impl KeysetRow for ActivityRow {
    fn key(&self) -> (i64, &str) {
        (self.created_at, &self.uuid)
    }
}

impl KeysetRow for ReplyRow {
    fn key(&self) -> (i64, &str) {
        (self.created_at, &self.uuid)
    }
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

impl ActivityRow {
    fn into_activity(self, replies: Vec<Reply>) -> RepositoryResult<Activity> {
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

/// A page from rows fetched one past the limit: the extra row only says there is more.
fn page<R: KeysetRow>(
    mut rows: Vec<R>,
    request: PageRequest,
) -> RepositoryResult<(Vec<R>, Option<String>)> {
    let more = rows.len() > request.limit();
    rows.truncate(request.limit());
    let next = match rows.last() {
        Some(last) if more => Some(last.cursor()?.to_string()),
        _ => None,
    };
    Ok((rows, next))
}

/// A page fetched newest first, in the order it is read: oldest first.
fn oldest_first<R, T>(
    rows: Vec<R>,
    convert: impl Fn(R) -> RepositoryResult<T>,
) -> RepositoryResult<Vec<T>> {
    rows.into_iter().rev().map(convert).collect()
}

/// The keyset bounds of a page request: after its cursor, or from the start.
fn bounds(request: PageRequest) -> (i64, String) {
    match request.before {
        Some(cursor) => (cursor.micros, cursor.uuid.to_string()),
        None => (Cursor::START.0, Cursor::START.1.to_owned()),
    }
}

/// One past the page, to learn whether another follows.
fn fetch_limit(request: PageRequest) -> i64 {
    i64::try_from(request.limit() + 1).unwrap_or(i64::MAX)
}

/// A message or search term as search compares it: in lower case, in every script.
pub(super) fn folded(text: &str) -> String {
    text.to_lowercase()
}

/// `term` as a LIKE pattern matching it anywhere in a folded message, its own `%`, `_` and `\`
/// taken literally.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::from("%");
    for c in folded(term).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Trigrams the index holds at most one query's worth of: enough to narrow a search to few
/// cruds, few enough that a long term costs no more than a short one.
const QUERY_TRIGRAMS: usize = 16;

/// For SQLite's trigram index: the cruds holding the first `QUERY_TRIGRAMS` different runs of
/// three characters of the folded `term` (each quoted, so nothing in it is query syntax), or
/// None for a term under three characters, which no trigram holds. NUL is left out as the
/// tokenizer leaves it out. The whole term is compared after, so what this adds is only speed.
fn trigram_query(term: &str) -> Option<String> {
    let characters: Vec<char> = term.chars().filter(|&c| c != '\0').collect();
    let mut trigrams: Vec<String> = Vec::new();
    for window in characters.windows(3) {
        let trigram: String = window.iter().collect();
        if !trigrams.contains(&trigram) {
            trigrams.push(trigram);
            if trigrams.len() == QUERY_TRIGRAMS {
                break;
            }
        }
    }
    if trigrams.is_empty() {
        return None;
    }
    let quoted: Vec<String> = trigrams
        .iter()
        .map(|trigram| format!("\"{}\"", trigram.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" AND "))
}

/// Handles are stored in lower case; a lookup ignores ASCII case.
fn stored_handle(handle: &str) -> String {
    handle.trim().to_ascii_lowercase()
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
            // SQLite: BUSY and LOCKED, with their extended codes (in the low byte), and
            // CANTOPEN; PostgreSQL: connection exceptions, insufficient resources, operator
            // intervention (such as a shutdown).
            let sqlite = code
                .parse::<i32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 14));
            sqlite || code.starts_with("08") || code.starts_with("53") || code.starts_with("57")
        }),
        _ => false,
    };
    if unavailable {
        RepositoryError::Unavailable(error.to_string())
    } else {
        RepositoryError::Failed(error.to_string())
    }
}

/// What every query's span says about the database. The strings are reference-counted, so
/// each span shares them rather than copying them.
fn span_attributes(info: &DatabaseInfo) -> Vec<KeyValue> {
    let shared = |text: &str| StringValue::from(Arc::<str>::from(text));
    let mut attributes = vec![
        KeyValue::new(semconv::DB_SYSTEM_NAME, info.system.name()),
        KeyValue::new(semconv::DB_NAMESPACE, shared(&info.namespace)),
    ];
    if let Some((address, port)) = &info.server {
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, shared(address)));
        attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(*port)));
    }
    // For X-Ray's `sql` block, which has no conventions of its own to come from.
    attributes.push(KeyValue::new(
        DatabaseInfo::VERSION_ATTRIBUTE,
        shared(&info.version),
    ));
    attributes.push(KeyValue::new(
        DatabaseInfo::URL_ATTRIBUTE,
        shared(&info.url),
    ));
    attributes
}

/// The short name of what went wrong, for `error.type`.
fn error_type(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => database
            .code()
            .map_or_else(|| "database".to_owned(), |code| code.into_owned()),
        sqlx::Error::PoolTimedOut => "pool_timed_out".to_owned(),
        sqlx::Error::Io(_) => "io".to_owned(),
        _ => "sqlx".to_owned(),
    }
}

pub struct SqlRepository {
    pub(super) pool: AnyPool,
    /// One health probe at a time: a flood of health checks holds one connection at most.
    health_probe: tokio::sync::Semaphore,
    /// The database's attributes, the same on every query's span.
    span_attributes: Vec<KeyValue>,
    /// A permit for each search that may hold a connection at once (`SEARCH_CONNECTIONS`).
    searches: Semaphore,
    /// Which database: search's index is each one's own.
    system: DatabaseSystem,
}

impl SqlRepository {
    pub fn new(database: Database) -> Self {
        SqlRepository {
            pool: database.pool,
            health_probe: tokio::sync::Semaphore::new(1),
            span_attributes: span_attributes(&database.info),
            searches: Semaphore::new(SEARCH_CONNECTIONS),
            system: database.info.system,
        }
    }

    /// Folds the messages of cruds stored before search compared folded text (the column's
    /// default is empty), a batch at a time; returns how many.
    pub async fn fold_old_messages(&self) -> RepositoryResult<u64> {
        const BATCH: i64 = 500;
        let mut folded_so_far = 0;
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT uuid, message FROM activities \
                 WHERE message_folded = '' AND message <> '' LIMIT $1",
            )
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
            for (uuid, message) in &rows {
                sqlx::query("UPDATE activities SET message_folded = $1 WHERE uuid = $2")
                    .bind(folded(message))
                    .bind(uuid)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
            }
            folded_so_far += rows.len() as u64;
            if rows.len() < BATCH.unsigned_abs() as usize {
                return Ok(folded_so_far);
            }
        }
    }

    /// Runs `query` as `statement`'s CLIENT span.
    async fn traced<T>(
        &self,
        statement: &Statement,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> RepositoryResult<T> {
        self.traced_text(statement, statement.sql, query).await
    }

    async fn traced_text<T>(
        &self,
        statement: &Statement,
        sql: &'static str,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> RepositoryResult<T> {
        let span = tracing::info_span!(
            "database query",
            otel.name = format_args!("{} {}", statement.operation, statement.collection),
            otel.kind = "client",
        );
        if !span.is_disabled() {
            // One look-up of the span for all its attributes, where each `set_attribute` would
            // find it again; this starts its OpenTelemetry span, which closing it would anyway.
            // The statement's strings are static and the database's shared: none is copied.
            span.context().span().set_attributes(
                [
                    KeyValue::new(semconv::DB_OPERATION_NAME, statement.operation),
                    KeyValue::new(semconv::DB_COLLECTION_NAME, statement.collection),
                    KeyValue::new(semconv::DB_QUERY_TEXT, sql),
                ]
                .into_iter()
                .chain(self.span_attributes.iter().cloned()),
            );
        }
        let result = async {
            let result = query.await;
            if let Err(error) = &result {
                let span = Span::current();
                span.set_attribute(semconv::ERROR_TYPE, error_type(error));
                span.set_status(Status::error(error.to_string()));
            }
            result
        }
        .instrument(span)
        .await;
        result.map_err(classify)
    }

    async fn user(&self, handle: &str) -> RepositoryResult<UserRow> {
        let query = sqlx::query_as::<_, UserRow>(USER.sql)
            .bind(stored_handle(handle))
            .fetch_optional(&self.pool);
        self.traced(&USER, query)
            .await?
            .ok_or(RepositoryError::UserNotFound)
    }

    /// A page of the activities `statement` lists, `arguments` its `$5` onwards.
    async fn activities(
        &self,
        statement: &Statement,
        arguments: &[&str],
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Activity>> {
        let rows = self
            .activity_rows(statement, arguments, request, now)
            .await?;
        self.activities_page(rows, request).await
    }

    /// The rows of a page of activities, one past the page when more follow.
    async fn activity_rows(
        &self,
        statement: &Statement,
        arguments: &[&str],
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<ActivityRow>> {
        let (before, before_uuid) = bounds(request);
        let mut query = sqlx::query_as::<_, ActivityRow>(statement.sql)
            .bind(micros(now))
            .bind(before)
            .bind(before_uuid)
            .bind(fetch_limit(request));
        for argument in arguments {
            query = query.bind(argument.to_string());
        }
        self.traced(statement, query.fetch_all(&self.pool)).await
    }

    /// The page `activity_rows` fetched, with the latest replies of each activity.
    async fn activities_page(
        &self,
        rows: Vec<ActivityRow>,
        request: PageRequest,
    ) -> RepositoryResult<Page<Activity>> {
        let (rows, next) = page(rows, request)?;
        let replies = self.feed_replies(&rows).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let uuid = parse_uuid(&row.uuid)?;
                let mine = replies
                    .iter()
                    .filter(|reply| reply.reply_to_activity_uuid == uuid)
                    .cloned()
                    .collect();
                row.into_activity(mine)
            })
            .collect::<RepositoryResult<Vec<_>>>()?;
        Ok(Page { items, next })
    }

    /// The latest few replies of each activity, in one query.
    async fn feed_replies(&self, activities: &[ActivityRow]) -> RepositoryResult<Vec<Reply>> {
        if activities.iter().all(|row| row.replies_count == 0) {
            return Ok(Vec::new());
        }
        // Named like every statement; its text is built once, for the page size.
        const STATEMENT: Statement = select("replies", "");
        let sql: &'static str = FEED_REPLIES_SQL.as_str();
        let mut query = sqlx::query_as::<_, ReplyRow>(AssertSqlSafe(sql));
        for n in 0..PAGE_SIZE {
            query = query.bind(
                activities
                    .get(n)
                    .map(|row| row.uuid.clone())
                    .unwrap_or_default(),
            );
        }
        let query = query.bind(FEED_REPLIES).fetch_all(&self.pool);
        let rows = self.traced_text(&STATEMENT, sql, query).await?;
        rows.into_iter().map(ReplyRow::into_reply).collect()
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
        // Waits for a permit as long as for a connection; the 503 after is the pool's own.
        let _permit = tokio::time::timeout(WAIT, self.searches.acquire())
            .await
            .map_err(|_| {
                RepositoryError::Unavailable("every search's share of the pool is in use".into())
            })?
            .map_err(|_| RepositoryError::Unavailable("searches are closed".into()))?;
        let pattern = contains_pattern(term);
        let Some(trigrams) = trigram_query(&folded(term)) else {
            return self.activities(&SEARCH_SCAN, &[&pattern], page, now).await;
        };
        let recent = self
            .activity_rows(&SEARCH_RECENT, &[&pattern], page, now)
            .await?;
        if recent.len() > page.limit() {
            return self.activities_page(recent, page).await;
        }
        match self.system {
            DatabaseSystem::Sqlite => {
                self.activities(&SEARCH_INDEXED_SQLITE, &[&pattern, &trigrams], page, now)
                    .await
            }
            DatabaseSystem::Postgres => {
                self.activities(&SEARCH_INDEXED_POSTGRES, &[&pattern], page, now)
                    .await
            }
        }
    }

    async fn activity(&self, uuid: Uuid, now: OffsetDateTime) -> RepositoryResult<Activity> {
        let query = sqlx::query_as::<_, ActivityRow>(ACTIVITY.sql)
            .bind(uuid.to_string())
            .bind(micros(now))
            .fetch_optional(&self.pool);
        let row = self
            .traced(&ACTIVITY, query)
            .await?
            .ok_or(RepositoryError::ActivityNotFound)?;
        let replies = self.replies(uuid, PageRequest::first(), now).await?;
        row.into_activity(replies.items)
    }

    async fn replies(
        &self,
        activity_uuid: Uuid,
        request: PageRequest,
        now: OffsetDateTime,
    ) -> RepositoryResult<Page<Reply>> {
        let (before, before_uuid) = bounds(request);
        let query = sqlx::query_as::<_, ReplyRow>(REPLIES.sql)
            .bind(activity_uuid.to_string())
            .bind(before)
            .bind(before_uuid)
            .bind(fetch_limit(request))
            .bind(micros(now))
            .fetch_all(&self.pool);
        let rows = self.traced(&REPLIES, query).await?;
        let (rows, next) = page(rows, request)?;
        let items = oldest_first(rows, ReplyRow::into_reply)?;
        Ok(Page { items, next })
    }

    async fn create_activity(
        &self,
        handle: &str,
        message: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> RepositoryResult<Activity> {
        let user = self.user(handle).await?;
        let uuid = Uuid::new_v4();
        let (created_at, expires_at) = (micros(created_at), micros(expires_at));
        let query = sqlx::query(INSERT_ACTIVITY.sql)
            .bind(uuid.to_string())
            .bind(user.handle.clone())
            .bind(message.to_owned())
            .bind(created_at)
            .bind(expires_at)
            .bind(folded(message))
            .execute(&self.pool);
        self.traced(&INSERT_ACTIVITY, query).await?;
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

    async fn create_reply(
        &self,
        activity_uuid: Uuid,
        handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Reply> {
        let user = self.user(handle).await?;
        let uuid = Uuid::new_v4();
        let created_at = micros(now);
        let query = sqlx::query(INSERT_REPLY.sql)
            .bind(uuid.to_string())
            .bind(activity_uuid.to_string())
            .bind(user.handle.clone())
            .bind(message.to_owned())
            .bind(created_at)
            .execute(&self.pool);
        let inserted = self.traced(&INSERT_REPLY, query).await?;
        if inserted.rows_affected() == 0 {
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

    async fn message_groups(
        &self,
        handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<MessageGroup>> {
        let user = self.user(handle).await?;
        let (before, before_uuid) = bounds(request);
        let query = sqlx::query_as::<_, MessageGroupRow>(MESSAGE_GROUPS.sql)
            .bind(user.handle)
            .bind(before)
            .bind(before_uuid)
            .bind(fetch_limit(request))
            .fetch_all(&self.pool);
        let rows = self.traced(&MESSAGE_GROUPS, query).await?;
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

    async fn messages(
        &self,
        handle: &str,
        other_handle: &str,
        request: PageRequest,
    ) -> RepositoryResult<Page<Message>> {
        let (user, other) = (self.user(handle).await?, self.user(other_handle).await?);
        let (first, second) = members(user.handle, other.handle);
        let (before, before_uuid) = bounds(request);
        let query = sqlx::query_as::<_, MessageRow>(MESSAGES.sql)
            .bind(first)
            .bind(second)
            .bind(before)
            .bind(before_uuid)
            .bind(fetch_limit(request))
            .fetch_all(&self.pool);
        let rows = self.traced(&MESSAGES, query).await?;
        let (rows, next) = page(rows, request)?;
        let items = oldest_first(rows, MessageRow::into_message)?;
        Ok(Page { items, next })
    }

    async fn create_message(
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
        let mut transaction = self.pool.begin().await.map_err(classify)?;
        // Writes first: SQLite takes its write lock (waiting its busy timeout) at the first write.
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
        Ok(Message {
            uuid,
            display_name: sender.display_name,
            handle: sender.handle,
            message: message.to_owned(),
            created_at: from_micros(created_at),
        })
    }

    /// Untraced: it runs outside any request, and a span of its own every few minutes would
    /// be a trace of its own, with no request to explain it.
    async fn delete_expired(&self, now: OffsetDateTime, at_most: u64) -> RepositoryResult<u64> {
        sqlx::query(DELETE_EXPIRED)
            .bind(micros(now))
            .bind(i64::try_from(at_most).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(classify)
    }

    /// Untraced, like the health answer it serves. A row updated to itself and rolled back:
    /// a read-only, corrupt or unreachable database refuses it, and nothing is ever written.
    async fn check_health(&self) -> RepositoryResult<()> {
        let _probing = self
            .health_probe
            .acquire()
            .await
            .map_err(|closed| RepositoryError::Unavailable(closed.to_string()))?;
        let mut transaction = self.pool.begin().await.map_err(classify)?;
        sqlx::query(HEALTH_PROBE)
            .execute(&mut *transaction)
            .await
            .map_err(classify)?;
        transaction.rollback().await.map_err(classify)
    }

    async fn close(&self) {
        self.pool.close().await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_term_matches_its_wildcards_literally() {
        assert_eq!(contains_pattern("Cloud"), "%cloud%");
        assert_eq!(contains_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }

    #[test]
    fn a_search_term_asks_the_index_for_its_different_trigrams_quoted() {
        assert_eq!(trigram_query("ab"), None);
        assert_eq!(trigram_query("a\0b"), None);
        assert_eq!(
            trigram_query("1\"%_\"").as_deref(),
            Some("\"1\"\"%\" AND \"\"\"%_\" AND \"%_\"\"\"")
        );
        assert_eq!(trigram_query("aaaa").as_deref(), Some("\"aaa\""));
        let long = trigram_query(&"abcdefghijklmnopqrstuvwxyz".repeat(10)).unwrap();
        assert_eq!(long.matches(" AND ").count(), QUERY_TRIGRAMS - 1);
    }

    #[test]
    fn a_conversation_has_one_order_of_members_whoever_starts_it() {
        let pair = members("worf".into(), "andrewbrown".into());
        assert_eq!(pair, members("andrewbrown".into(), "worf".into()));
        assert_eq!(pair.0, "andrewbrown");
    }
}
