//! What is posted is kept across restarts of the binary, on either database.

use serde_json::{Value, json};

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::spawn_backend;

on_both_databases!(
    a_posted_crud_reply_and_message_survive_a_restart_and_the_seeds_come_once,
    with_seed_data_off_an_empty_database_stays_empty,
    data_written_under_the_first_released_schema_is_all_there_and_found_by_search_after_every_migration,
);

/// The last migration of the schema Cruddur was first released with: a database of that time
/// holds data in it.
const FIRST_RELEASED_SCHEMA: i64 = 2;

async fn home_messages(address: &str) -> Vec<String> {
    let feed: Value = reqwest::get(format!("{address}/api/activities/home"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|activity| activity["message"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_posted_crud_reply_and_message_survive_a_restart_and_the_seeds_come_once(
    database: TestDatabase,
) {
    let (variable, value) = database.env();
    let mut first = spawn_backend(&[("OTEL_SDK_DISABLED", "true"), (variable, &value)]).await;
    let client = reqwest::Client::new();
    let crud: Value = client
        .post(format!("{}/api/activities", first.address))
        .json(&json!({"message": "Still here after a restart", "ttl": "7-days"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = crud["uuid"].as_str().unwrap().to_owned();
    let reply = client
        .post(format!("{}/api/activities/{uuid}/reply", first.address))
        .json(&json!({"message": "So it is"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let message = client
        .post(format!("{}/api/messages", first.address))
        .json(&json!({"message": "Remember me", "user_receiver_handle": "coco"}))
        .send()
        .await
        .unwrap();
    assert_eq!(message.status(), 200);
    first.terminate();
    assert!(
        first
            .wait(std::time::Duration::from_secs(10))
            .await
            .success()
    );

    let second = spawn_backend(&[("OTEL_SDK_DISABLED", "true"), (variable, &value)]).await;
    let messages = home_messages(&second.address).await;
    assert_eq!(messages[0], "Still here after a restart");
    assert_eq!(
        messages.len(),
        5,
        "the seeds once, and the crud: {messages:?}"
    );
    let page: Value = reqwest::get(format!("{}/api/activities/{uuid}", second.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["replies"][0]["message"], "So it is");
    let conversation: Value = reqwest::get(format!("{}/api/messages/@coco", second.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conversation["items"][0]["message"], "Remember me");
}

async fn get(address: &str, path: &str) -> Value {
    reqwest::get(format!("{address}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn data_written_under_the_first_released_schema_is_all_there_and_found_by_search_after_every_migration(
    database: TestDatabase,
) {
    database.migrate_to(FIRST_RELEASED_SCHEMA).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let week: i64 = 7 * 86_400 * 1_000_000;
    let (old, unfolded) = (
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    );
    // The second crud is as the first schema left it: its folded message not yet written.
    database
        .execute(format!(
            "INSERT INTO activities (uuid, user_handle, message, message_folded, created_at, expires_at) \
             VALUES ('{old}', 'worf', 'Written BEFORE the index', 'written before the index', \
             {now} - 2, {now} + {week}), \
             ('{unfolded}', 'garek', 'Never FOLDED', '', {now} - 1, {now} + {week}); \
             INSERT INTO notifications (activity_uuid, user_handle) VALUES ('{old}', 'andrewbrown'); \
             INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at) \
             VALUES ('33333333-3333-4333-8333-333333333333', '{old}', 'coco', 'An old reply', {now}); \
             INSERT INTO conversations (uuid, first_handle, second_handle, last_message_at) \
             VALUES ('44444444-4444-4444-8444-444444444444', 'andrewbrown', 'coco', {now}); \
             INSERT INTO messages (uuid, conversation_uuid, sender_handle, message, created_at) \
             VALUES ('55555555-5555-4555-8555-555555555555', '44444444-4444-4444-8444-444444444444', \
             'coco', 'An old message', {now})"
        ))
        .await;

    let (variable, value) = database.env();
    let backend = spawn_backend(&[("OTEL_SDK_DISABLED", "true"), (variable, &value)]).await;
    let address = &backend.address;
    assert_eq!(
        home_messages(address).await,
        ["Never FOLDED", "Written BEFORE the index"],
        "the old cruds, and no seeds"
    );
    for (term, found) in [
        ("before the", "Written BEFORE the index"),
        ("folded", "Never FOLDED"),
    ] {
        let page = get(address, &format!("/api/activities/search?term={term}")).await;
        assert_eq!(page["items"][0]["message"], found, "{term}: {page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{term}: {page}");
    }
    let crud = get(address, &format!("/api/activities/{old}")).await;
    assert_eq!(crud["replies"][0]["message"], "An old reply");
    assert_eq!(
        crud["replies_count"], 1,
        "counted for the cruds stored before the count"
    );
    let notifications = get(address, "/api/activities/notifications").await;
    assert_eq!(
        notifications["items"][0]["message"], "Written BEFORE the index",
        "{notifications}"
    );
    let conversation = get(address, "/api/messages/@coco").await;
    assert_eq!(conversation["items"][0]["message"], "An old message");
}

async fn with_seed_data_off_an_empty_database_stays_empty(database: TestDatabase) {
    let (variable, value) = database.env();
    let backend = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_SEED_DATA", "off"),
        (variable, &value),
    ])
    .await;
    assert!(home_messages(&backend.address).await.is_empty());
    if let TestDatabase::Sqlite(directory) = &database {
        let file = directory.path().join("cruddur.db");
        assert!(file.exists(), "the SQLite file is created on first run");
    }
}
