//! Users as the other features find them, and the health check's probe of the users table.

use super::super::{RepositoryError, RepositoryResult};
use super::{SqlRepository, Statement, classify, select};
use crate::database::on_pool;

const USER: Statement = select(
    "users",
    "SELECT handle, display_name FROM users WHERE handle = $1",
);
/// The health check's write: the first user's name set to itself, then rolled back.
const HEALTH_PROBE: &str = "UPDATE users SET display_name = display_name \
     WHERE handle = (SELECT MIN(handle) FROM users)";

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub(super) handle: String,
    pub(super) display_name: String,
}

/// Handles are stored in lower case; a lookup ignores ASCII case.
fn stored_handle(handle: &str) -> String {
    handle.trim().to_ascii_lowercase()
}

impl SqlRepository {
    pub(super) async fn user(&self, handle: &str) -> RepositoryResult<UserRow> {
        on_pool!(&self.pool, pool => {
            let query = sqlx::query_as::<_, UserRow>(USER.sql)
                .bind(stored_handle(handle))
                .fetch_optional(pool);
            self.traced(&USER, query).await
        })?
        .ok_or(RepositoryError::UserNotFound)
    }

    /// Untraced, like the health answer it serves. A row updated to itself and rolled back:
    /// a read-only, corrupt or unreachable database refuses it, and nothing is ever written.
    pub(super) async fn probe_health(&self) -> RepositoryResult<()> {
        let _probing = self
            .health_probe
            .acquire()
            .await
            .map_err(|closed| RepositoryError::Unavailable(closed.to_string()))?;
        on_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await.map_err(classify)?;
            sqlx::query(HEALTH_PROBE)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
            transaction.rollback().await.map_err(classify)
        })
    }
}
