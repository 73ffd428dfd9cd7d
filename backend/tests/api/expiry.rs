//! A crud's `expires_at` is honoured: it leaves every list when it passes, and the periodic
//! delete removes it with its replies, a batch at a time, and stops when the server does.

use std::sync::Arc;

use backend::clients::address::TrustedProxies;
use backend::clients::read_budget::ReadBudget;
use backend::clients::write_budget::WriteBudget;
use backend::maintenance::{self, Maintenance};
use backend::repository::{PageRequest, Repository, RepositoryError, SqlRepository};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use crate::databases::{TestDatabase, on_both_databases};

on_both_databases!(expired_cruds_leave_every_list_and_are_deleted_with_their_replies,);

async fn expired_cruds_leave_every_list_and_are_deleted_with_their_replies(database: TestDatabase) {
    let repository = database.repository().await;
    let now = OffsetDateTime::now_utc();
    let short = repository
        .create_activity(
            "worf",
            "gone within the hour",
            now,
            now + Duration::hours(1),
        )
        .await
        .unwrap();
    let long = repository
        .create_activity("worf", "here all week", now, now + Duration::days(7))
        .await
        .unwrap();
    repository
        .create_reply(short.uuid, "coco", "quick, before it goes", now)
        .await
        .unwrap();

    let later = now + Duration::hours(2);
    let messages = |page: shared::Page<shared::Activity>| -> Vec<String> {
        page.items
            .into_iter()
            .map(|activity| activity.message)
            .collect()
    };
    let first = PageRequest::first();
    let home = repository.home_activities(first, later).await.unwrap();
    assert_eq!(messages(home), ["here all week"]);
    let worf = repository
        .user_activities("worf", first, later)
        .await
        .unwrap();
    assert_eq!(messages(worf), ["here all week"]);
    let found = repository
        .search_activities("gone", first, later)
        .await
        .unwrap();
    assert!(found.items.is_empty());
    assert_eq!(
        repository.activity(short.uuid, later).await,
        Err(RepositoryError::ActivityNotFound)
    );
    assert_eq!(
        repository
            .create_reply(short.uuid, "coco", "too late", later)
            .await,
        Err(RepositoryError::ActivityNotFound)
    );
    let hidden = repository.replies(short.uuid, first, later).await.unwrap();
    assert!(
        hidden.items.is_empty(),
        "an expired crud's replies leave with it"
    );
    let shown = repository.replies(short.uuid, first, now).await.unwrap();
    assert_eq!(shown.items.len(), 1, "and were there before");

    assert_eq!(repository.delete_expired(later, 500).await, Ok(1));
    assert_eq!(repository.delete_expired(later, 500).await, Ok(0));
    let replies = repository.replies(short.uuid, first, now).await.unwrap();
    assert!(replies.items.is_empty(), "its replies went with it");
    assert!(
        repository.activity(short.uuid, now).await.is_err(),
        "deleted, even for an earlier now"
    );
    assert_eq!(
        repository.activity(long.uuid, later).await.unwrap().message,
        "here all week"
    );
}

/// `count` cruds of worf's that expired an hour ago.
pub(crate) async fn expired_cruds(repository: &SqlRepository, count: usize) {
    let now = OffsetDateTime::now_utc();
    for n in 0..count {
        repository
            .create_activity(
                "worf",
                &format!("expired {n}"),
                now - Duration::hours(2),
                now - Duration::hours(1),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_expiry_sweep_stops_between_batches_when_asked() {
    let database = TestDatabase::sqlite();
    let repository = database.repository().await;
    expired_cruds(&repository, 6).await;
    let now = OffsetDateTime::now_utc();
    let (_stop, stopped) = watch::channel(true);
    assert_eq!(
        maintenance::delete_expired(&repository, now, 2, &stopped).await,
        Ok(2),
        "one batch, then the stop is seen"
    );
    let (_stop, running) = watch::channel(false);
    assert_eq!(
        maintenance::delete_expired(&repository, now, 2, &running).await,
        Ok(4),
        "the rest, batch after batch"
    );
}

#[tokio::test]
async fn stopping_maintenance_during_a_hung_delete_ends_by_its_deadline() {
    let database = TestDatabase::sqlite();
    let repository = database.repository().await;
    expired_cruds(&repository, 1).await;
    // Another connection holds SQLite's write lock: the delete waits for it (5 s) and more.
    let mut holder = database.sqlite_connection().await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let maintenance = Maintenance::start(
        Arc::new(repository),
        WriteBudget::new(1, TrustedProxies::default()),
        ReadBudget::new(1, 1, TrustedProxies::default()),
        std::time::Duration::from_millis(10),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopping = std::time::Instant::now();
    maintenance
        .stop(std::time::Duration::from_millis(300))
        .await;
    let took = stopping.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}
