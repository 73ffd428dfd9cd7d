//! `/api/health` says whether the database would take a write; the relay's counters are only
//! for a client on the server's own machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;

use crate::helpers::{BackendProcess, error_codes, spawn_app, spawn_backend};

#[tokio::test]
async fn the_public_health_answer_shows_no_counters_and_the_local_one_does() {
    let app = spawn_app().await;
    let health = app.get_json("/api/health").await;
    assert_eq!(health, serde_json::json!({"status": "ok"}));
    let counts = app.get_json("/api/health/relay").await;
    assert!(counts["relay"]["exports_accepted"].is_number(), "{counts}");
    let forwarded = app
        .client
        .get(format!("{}/api/health/relay", app.address))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_codes(forwarded, 404).await,
        ["not_found"],
        "a proxy on this machine forwards for someone else"
    );
}

/// Root ignores permissions; /proc/self belongs to the process's effective user.
fn running_as_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// Makes `file` unwritable even for root (who ignores permissions), and undoes it on drop so
/// the temporary directory can go.
pub(crate) struct Unwritable<'a>(&'a Path);

impl<'a> Unwritable<'a> {
    pub(crate) fn make(file: &'a Path) -> Self {
        if running_as_root() {
            let done = Command::new("chattr").arg("+i").arg(file).status().unwrap();
            assert!(done.success(), "chattr +i {}", file.display());
        } else {
            let read_only =
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o444);
            std::fs::set_permissions(file, read_only).unwrap();
        }
        Unwritable(file)
    }
}

impl Drop for Unwritable<'_> {
    fn drop(&mut self) {
        if running_as_root() {
            let _ = Command::new("chattr").arg("-i").arg(self.0).status();
        }
    }
}

/// A SQLite file in `data`, made and seeded by a backend that has exited since.
pub(crate) async fn stored_database(data: &Path) -> PathBuf {
    let mut first = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_DATA_DIR", data.to_str().unwrap()),
    ])
    .await;
    assert_eq!(first.health().await["status"], "ok");
    first.terminate();
    first.wait(std::time::Duration::from_secs(15)).await;
    data.join("cruddur.db")
}

/// A backend on the database in `data`, which asks nothing of it at startup but reads.
pub(crate) async fn backend_on(data: &Path) -> BackendProcess {
    spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_DATA_DIR", data.to_str().unwrap()),
        ("CRUDDUR_SEED_DATA", "off"),
    ])
    .await
}

async fn assert_unhealthy(backend: &BackendProcess) {
    let health = reqwest::get(format!("{}/api/health", backend.address))
        .await
        .unwrap();
    assert_eq!(
        error_codes(health, 503).await,
        ["database_unavailable"],
        "{}",
        backend.stderr()
    );
}

#[tokio::test]
async fn a_read_only_sqlite_file_makes_the_server_unhealthy() {
    let data = tempfile::tempdir().unwrap();
    let file = stored_database(data.path()).await;
    let _unwritable = Unwritable::make(&file);
    let backend = backend_on(data.path()).await;
    assert_unhealthy(&backend).await;
    let feed = reqwest::get(format!("{}/api/activities/home", backend.address))
        .await
        .unwrap();
    assert_eq!(feed.status(), 200, "reads still work");
}

#[tokio::test]
async fn a_corrupt_sqlite_file_makes_the_server_unhealthy() {
    let data = tempfile::tempdir().unwrap();
    let file = stored_database(data.path()).await;
    corrupt_users_table(&file).await;
    assert_unhealthy(&backend_on(data.path()).await).await;
}

/// Overwrites the users table's first page, as a failing disk or a torn copy leaves it; the
/// schema is intact, so a server starts on the file.
pub(crate) async fn corrupt_users_table(file: &Path) {
    let url = format!("sqlite://{}", file.display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'users'")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let mut bytes = std::fs::read(file).unwrap();
    let start = usize::try_from((root - 1) * page_size).unwrap();
    let end = start + usize::try_from(page_size).unwrap();
    bytes[start..end].fill(0x5a);
    std::fs::write(file, bytes).unwrap();
}
