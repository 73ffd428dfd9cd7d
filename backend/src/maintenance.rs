//! The periodic task: deletes expired cruds and forgets clients idle in the write and
//! read budgets.
//! Expired cruds leave every list the moment they expire; this only reclaims their rows, a
//! batch at a time, and stops between batches when the server shuts down.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::clients::read_budget::ReadBudget;
use crate::clients::write_budget::WriteBudget;
use crate::repository::{Repository, RepositoryResult};

/// How often expired cruds are deleted.
pub const PERIOD: Duration = Duration::from_secs(5 * 60);
/// Rows per delete, so no delete holds the database for long.
pub const DELETE_BATCH: u64 = 500;

pub struct Maintenance {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Maintenance {
    /// Runs every `period` on the runtime until stopped.
    pub fn start(
        repository: Arc<dyn Repository>,
        write_budget: WriteBudget,
        read_budget: ReadBudget,
        period: Duration,
    ) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    // A stop, or the sender gone with the application.
                    _ = stopped.changed() => return,
                    () = tokio::time::sleep(period) => {}
                }
                write_budget.forget_idle_clients().await;
                read_budget.forget_idle_clients();
                let now = OffsetDateTime::now_utc();
                match delete_expired(repository.as_ref(), now, DELETE_BATCH, &stopped).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "expired cruds deleted"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired cruds yet"),
                }
            }
        });
        Maintenance { stop, task }
    }

    /// Stops the task: it ends between two batches, and a batch still running at `deadline`
    /// (a large one, a hung query) is abandoned, its transaction never committed.
    pub async fn stop(self, deadline: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(deadline, &mut task).await.is_err() {
            task.abort();
            tracing::warn!(
                ?deadline,
                "the expired cruds' delete outlasted the shutdown deadline and was abandoned"
            );
        }
    }
}

/// Deletes the cruds expired at `now`, `batch` at a time, until none is left or `stop` says
/// true; returns how many went.
pub async fn delete_expired(
    repository: &dyn Repository,
    now: OffsetDateTime,
    batch: u64,
    stop: &watch::Receiver<bool>,
) -> RepositoryResult<u64> {
    let mut deleted = 0;
    loop {
        let went = repository.delete_expired(now, batch).await?;
        deleted += went;
        if went < batch || *stop.borrow() {
            return Ok(deleted);
        }
    }
}
