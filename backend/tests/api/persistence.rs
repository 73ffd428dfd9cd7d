//! What is posted is kept across restarts of the binary, on either database.

use serde_json::{Value, json};

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::spawn_backend;

on_both_databases!(
    a_posted_crud_reply_and_message_survive_a_restart_and_the_seeds_come_once,
    with_seed_data_off_an_empty_database_stays_empty,
);

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
