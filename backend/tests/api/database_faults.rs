//! A database that is read-only, corrupt, full or not a database at all: requests answer 503
//! `database_unavailable` with one log line that says why, and nothing panics.

use std::path::Path;
use std::process::Command;

use crate::health::{Unwritable, backend_on, corrupt_users_table, stored_database};
use crate::helpers::{BackendProcess, backend_command, error_codes, spawn_backend};
use serde_json::json;

const UNAVAILABLE: &str = "the database is unavailable";

async fn post_crud(backend: &BackendProcess) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/activities", backend.address))
        .json(&json!({"message": "onto a database that cannot take it", "ttl": "1-day"}))
        .send()
        .await
        .unwrap()
}

/// Asserts one refused request left exactly one log line, naming the cause, and no panic.
async fn assert_one_line_saying(backend: &BackendProcess, cause: &str) {
    let log = backend.log_containing(cause).await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(UNAVAILABLE))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(cause), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn a_crud_posted_to_a_read_only_sqlite_file_answers_503_with_one_log_line() {
    let data = tempfile::tempdir().unwrap();
    let file = stored_database(data.path()).await;
    let _unwritable = Unwritable::make(&file);
    let backend = backend_on(data.path()).await;
    assert_eq!(
        error_codes(post_crud(&backend).await, 503).await,
        ["database_unavailable"]
    );
    assert_one_line_saying(&backend, "readonly").await;
}

#[tokio::test]
async fn a_feed_read_from_a_corrupt_sqlite_file_answers_503_with_one_log_line() {
    let data = tempfile::tempdir().unwrap();
    let file = stored_database(data.path()).await;
    // A user's feed reads the users table first.
    corrupt_users_table(&file).await;

    let backend = backend_on(data.path()).await;
    let feed = reqwest::get(format!("{}/api/activities/@worf", backend.address))
        .await
        .unwrap();
    assert_eq!(error_codes(feed, 503).await, ["database_unavailable"]);
    assert_one_line_saying(&backend, "malformed").await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_stops_startup_with_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("cruddur.db"), [0x5a; 8192]).unwrap();
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        backend_command()
            .env("PORT", "0")
            .env("OTEL_SDK_DISABLED", "true")
            .env("CRUDDUR_DATA_DIR", data.path())
            .output(),
    )
    .await
    .expect("the backend stops by itself")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("file is not a database"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
}

/// A tmpfs of `size` mounted on `at`, unmounted on drop; None where this process may not
/// mount (it needs root, or CAP_SYS_ADMIN).
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(at: &'a Path, size: &str) -> Option<Self> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(Tmpfs(at))
    }
}

impl Drop for Tmpfs<'_> {
    /// Lazily: detached at once, freed when the last file open on it closes.
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(self.0).status();
    }
}

#[tokio::test]
async fn cruds_posted_to_a_full_disk_answer_503_with_one_log_line_and_posting_resumes_once_there_is_room()
 {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(mount_point.path(), "2m") else {
        eprintln!("skipped: this process cannot mount a tmpfs");
        return;
    };
    let data = mount_point.path().join("data");
    let mut backend = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_DATA_DIR", data.to_str().unwrap()),
        ("CRUDDUR_WRITE_BUDGET", "100000"),
    ])
    .await;
    assert_eq!(post_crud(&backend).await.status(), 200);
    // Every byte left taken by a file of the test's own.
    let filler = mount_point.path().join("filler");
    let mut written = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut written, &block).is_ok() {}
    drop(written);

    let mut refused = None;
    for _ in 0..2000 {
        let response = post_crud(&backend).await;
        match response.status().as_u16() {
            200 => continue,
            _ => {
                refused = Some(response);
                break;
            }
        }
    }
    let refused = refused.expect("a full disk refuses a write before long");
    assert_eq!(error_codes(refused, 503).await, ["database_unavailable"]);
    assert_one_line_saying(&backend, "full").await;

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(post_crud(&backend).await.status(), 200);
    // Gone before the tmpfs is unmounted, which its open files would keep busy.
    backend.terminate();
    backend.wait(std::time::Duration::from_secs(15)).await;
}
