//! Search: cruds whose message contains a term, ignoring case, compared in folded text.

use shared::{Activity, Page};
use time::OffsetDateTime;

use super::super::cursor::PageRequest;
use super::super::{RepositoryError, RepositoryResult};
use super::activities::{activities_where, list_query};
use super::{SqlRepository, Statement, classify, select};
use crate::database::{Pool, SQLITE_STATEMENT_LIMIT, WAIT, bound_statements, on_pool};

/// Search by reading cruds newest first: for a term too short for the trigram index. `$5` is
/// the term as a LIKE pattern (`contains_pattern`). It compares an expression of the message,
/// so that PostgreSQL never reads pg_trgm's index for it: for a term under three characters
/// that index names every crud.
const SEARCH_SCAN: Statement = select(
    "activities",
    activities_where!("(a.message_folded || '') LIKE $5 ESCAPE '\\'"),
);
/// Search among the newest cruds after the cursor (the `LIMIT` of the inner query), `$5` as in
/// `SEARCH_SCAN`: a term found in more than a page's worth of them fills its page there, where
/// the index would name every crud holding it, to be sorted.
const SEARCH_RECENT: Statement = select(
    "activities",
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, a.replies_count \
     FROM (SELECT uuid, user_handle, message, message_folded, created_at, expires_at, likes_count, replies_count \
     FROM activities WHERE expires_at > $1 AND created_at <= $2 AND (created_at < $2 OR uuid < $3) \
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
     a.likes_count, a.replies_count \
     FROM activities_search s CROSS JOIN activities a ON a.rowid = s.rowid \
     JOIN users u ON u.handle = a.user_handle \
     WHERE s.activities_search MATCH $6 AND a.message_folded LIKE $5 ESCAPE '\\' \
     AND a.expires_at > $1 AND a.created_at <= $2 AND (a.created_at < $2 OR a.uuid < $3) \
     ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4",
);
/// Search through PostgreSQL's trigram index (`activities_search`, pg_trgm's GIN), `$5` as in
/// `SEARCH_SCAN`. The matches are found apart (`MATERIALIZED`), so the index reads them
/// whichever plan the rest gets, as the time index would read every crud.
const SEARCH_INDEXED_POSTGRES: Statement = select(
    "activities",
    "WITH found AS MATERIALIZED (SELECT uuid FROM activities WHERE message_folded LIKE $5) \
     SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, \
     a.likes_count, a.replies_count \
     FROM activities a JOIN users u ON u.handle = a.user_handle \
     WHERE a.uuid IN (SELECT uuid FROM found) \
     AND a.expires_at > $1 AND a.created_at <= $2 AND (a.created_at < $2 OR a.uuid < $3) \
     ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4",
);
/// The most trigrams one search asks SQLite's index for: enough to narrow a search to few
/// cruds, few enough that a long term costs no more than a short one.
const QUERY_TRIGRAMS: usize = 16;

/// A message or search term as search compares it: in lower case, in every script.
pub(in super::super) fn folded(text: &str) -> String {
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

impl SqlRepository {
    pub(super) async fn search(
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
        let trigrams = trigram_query(&folded(term));
        // The statements in the order they are tried: for a term no trigram holds, one reading
        // cruds newest first; else the newest thousand, then, when they hold less than a page,
        // the index.
        let (first, then): (&Statement, Option<(&Statement, Vec<&str>)>) =
            match (&trigrams, &self.pool) {
                (None, _) => (&SEARCH_SCAN, None),
                (Some(trigrams), Pool::Sqlite(_)) => (
                    &SEARCH_RECENT,
                    Some((&SEARCH_INDEXED_SQLITE, vec![&pattern, trigrams])),
                ),
                (Some(_), Pool::Postgres(_)) => (
                    &SEARCH_RECENT,
                    Some((&SEARCH_INDEXED_POSTGRES, vec![&pattern])),
                ),
            };
        // The same steps on either database's executor.
        macro_rules! search_rows {
            ($executor:expr) => {{
                let query = list_query(first, &[&pattern], page, now).fetch_all($executor);
                let rows = self.traced(first, query).await?;
                match &then {
                    Some((statement, arguments)) if rows.len() <= page.limit() => {
                        let query =
                            list_query(statement, arguments, page, now).fetch_all($executor);
                        self.traced(statement, query).await?
                    }
                    _ => rows,
                }
            }};
        }
        let rows = match &self.pool {
            // The statements are bounded by SQLite's progress handler, as by
            // `statement_timeout` on PostgreSQL, on a connection taken for them.
            Pool::Sqlite(pool) => {
                let mut connection = pool.acquire().await.map_err(classify)?;
                let _bounded = bound_statements(&mut connection, SQLITE_STATEMENT_LIMIT)
                    .await
                    .map_err(classify)?;
                search_rows!(&mut *connection)
            }
            Pool::Postgres(pool) => search_rows!(pool),
        };
        self.with_replies(rows, page).await
    }

    /// Folds the messages of cruds stored before search compared folded text (the column's
    /// default is empty), a batch at a time; returns how many.
    pub async fn fold_old_messages(&self) -> RepositoryResult<u64> {
        const BATCH: i64 = 500;
        let mut folded_so_far = 0;
        loop {
            let rows: Vec<(String, String)> = on_pool!(&self.pool, pool => {
                sqlx::query_as(
                    "SELECT uuid, message FROM activities \
                     WHERE message_folded = '' AND message <> '' LIMIT $1",
                )
                .bind(BATCH)
                .fetch_all(pool)
                .await
            })
            .map_err(classify)?;
            for (uuid, message) in &rows {
                on_pool!(&self.pool, pool => {
                    sqlx::query("UPDATE activities SET message_folded = $1 WHERE uuid = $2")
                        .bind(folded(message))
                        .bind(uuid)
                        .execute(pool)
                        .await
                        .map(drop)
                })
                .map_err(classify)?;
            }
            folded_so_far += rows.len() as u64;
            if rows.len() < BATCH.unsigned_abs() as usize {
                return Ok(folded_so_far);
            }
        }
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
}
