//! Search: cruds whose message contains a term, ignoring case, compared in folded text.

use shared::{Activity, Page};
use time::OffsetDateTime;

use super::super::cursor::PageRequest;
use super::super::{RepositoryError, RepositoryResult};
use super::activities::{activities_where, list_query};
use super::{SqlRepository, Statement, classify, select};
use crate::database::{Pool, SQLITE_STATEMENT_LIMIT, WAIT, bound_statements, on_pool};

const SEARCH: Statement = select(
    "activities",
    activities_where!("a.message_folded LIKE $5 ESCAPE '\\'"),
);

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
        let pattern = Some(contains_pattern(term));
        let rows = match &self.pool {
            // A scan is bounded by SQLite's progress handler, as by `statement_timeout` on
            // PostgreSQL, on a connection taken for it.
            Pool::Sqlite(pool) => {
                let mut connection = pool.acquire().await.map_err(classify)?;
                let _bounded = bound_statements(&mut connection, SQLITE_STATEMENT_LIMIT)
                    .await
                    .map_err(classify)?;
                let query = list_query(&SEARCH, pattern, page, now).fetch_all(&mut *connection);
                self.traced(&SEARCH, query).await?
            }
            Pool::Postgres(pool) => {
                let query = list_query(&SEARCH, pattern, page, now).fetch_all(pool);
                self.traced(&SEARCH, query).await?
            }
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
}
