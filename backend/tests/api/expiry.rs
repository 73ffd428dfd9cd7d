//! A crud's `expires_at` is honoured: it leaves every list when it passes, and the periodic
//! delete removes it with its replies.

use backend::configuration::Settings;
use backend::database::Database;
use backend::repository::{PageRequest, Repository, RepositoryError, SqlRepository};
use time::{Duration, OffsetDateTime};

use crate::databases::{TestDatabase, on_both_databases};

on_both_databases!(expired_cruds_leave_every_list_and_are_deleted_with_their_replies,);

async fn repository(database: &TestDatabase) -> SqlRepository {
    let (variable, value) = database.env();
    let settings = Settings::from_lookup(|name| (name == variable).then(|| value.clone()))
        .expect("the test settings are valid");
    let database = Database::open(&settings.database.location)
        .await
        .expect("the database opens");
    SqlRepository::new(database)
}

async fn expired_cruds_leave_every_list_and_are_deleted_with_their_replies(database: TestDatabase) {
    let repository = repository(&database).await;
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

    assert_eq!(repository.delete_expired(later).await, Ok(1));
    assert_eq!(repository.delete_expired(later).await, Ok(0));
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
