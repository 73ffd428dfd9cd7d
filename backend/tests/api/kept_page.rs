//! The home page is kept between requests as it was sent, and read again from the database
//! whenever what it shows may have changed: a crud or reply from this instance, from another,
//! or from any tool writing the database, and a crud on it that expires.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{
    QUICK_EXPORT, ReceivedSpan, attribute, in_process_settings, serve_in_process,
    spawn_traced_backend,
};

on_both_databases!(
    the_home_page_shows_at_once_a_crud_and_a_reply_another_writer_stored,
    a_crud_leaves_the_kept_home_page_when_it_expires,
    the_home_page_is_read_from_the_database_only_after_a_write_changes_it,
);

async fn home(client: &reqwest::Client, address: &str) -> Json {
    let response = client
        .get(format!("{address}/api/activities/home"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn messages(page: &Json) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["message"].as_str().unwrap())
        .collect()
}

fn micros(time: OffsetDateTime) -> i128 {
    time.unix_timestamp_nanos() / 1000
}

/// A crud stored by SQL, as another instance or a tool would store it.
fn insert_crud(uuid: uuid::Uuid, message: &str, expires_at: OffsetDateTime) -> String {
    let now = micros(OffsetDateTime::now_utc());
    format!(
        "INSERT INTO activities (uuid, user_handle, message, created_at, expires_at, \
         message_folded) VALUES ('{uuid}', 'worf', '{message}', {now}, {}, '{message}')",
        micros(expires_at)
    )
}

async fn the_home_page_shows_at_once_a_crud_and_a_reply_another_writer_stored(
    database: TestDatabase,
) {
    let address = serve_in_process(&in_process_settings(&database, &[])).await;
    let client = reqwest::Client::new();
    let before = home(&client, &address).await;
    assert_eq!(
        home(&client, &address).await,
        before,
        "read again, unchanged"
    );

    let uuid = uuid::Uuid::new_v4();
    let tomorrow = OffsetDateTime::now_utc() + time::Duration::days(1);
    database
        .execute(insert_crud(uuid, "stored by another instance", tomorrow))
        .await;
    let after = home(&client, &address).await;
    assert_eq!(messages(&after)[0], "stored by another instance");
    assert_eq!(messages(&after)[1..], messages(&before)[..]);

    let now = micros(OffsetDateTime::now_utc());
    database
        .execute(format!(
            "INSERT INTO replies (uuid, activity_uuid, user_handle, message, created_at) \
             VALUES ('{}', '{uuid}', 'coco', 'a reply from elsewhere', {now})",
            uuid::Uuid::new_v4()
        ))
        .await;
    let replied = home(&client, &address).await;
    assert_eq!(replied["items"][0]["replies_count"], 1);
    assert_eq!(
        replied["items"][0]["replies"][0]["message"],
        "a reply from elsewhere"
    );
}

async fn a_crud_leaves_the_kept_home_page_when_it_expires(database: TestDatabase) {
    let address = serve_in_process(&in_process_settings(&database, &[])).await;
    let client = reqwest::Client::new();
    let expires_at = OffsetDateTime::now_utc() + time::Duration::seconds(2);
    database
        .execute(insert_crud(
            uuid::Uuid::new_v4(),
            "here for two seconds",
            expires_at,
        ))
        .await;
    assert_eq!(
        messages(&home(&client, &address).await)[0],
        "here for two seconds"
    );
    assert_eq!(
        messages(&home(&client, &address).await)[0],
        "here for two seconds"
    );

    let left = (expires_at - OffsetDateTime::now_utc()).unsigned_abs();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
    assert!(
        !messages(&home(&client, &address).await).contains(&"here for two seconds"),
        "an expired crud is not shown, though nothing was written since"
    );
}

fn page_kept(span: &ReceivedSpan) -> Option<bool> {
    match attribute(&span.span.attributes, "app.page_kept") {
        Some(Value::BoolValue(kept)) => Some(*kept),
        _ => None,
    }
}

async fn the_home_page_is_read_from_the_database_only_after_a_write_changes_it(
    database: TestDatabase,
) {
    let (variable, value) = database.env();
    let (receiver, _daemon, backend) =
        spawn_traced_backend(&[QUICK_EXPORT, (variable, value.as_str())]).await;
    let client = reqwest::Client::new();
    let read = |path: &'static str| {
        let request = client.get(format!("{}{path}", backend.address)).send();
        async move { assert_eq!(request.await.unwrap().status(), 200) }
    };
    read("/api/activities/home").await;
    read("/api/activities/home").await;
    // It writes a name over itself, and rolls back.
    read("/api/health").await;
    read("/api/activities/home").await;
    let posted = client
        .post(format!("{}/api/activities", backend.address))
        .json(&json!({"message": "a new crud", "ttl": "1-day"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    read("/api/activities/home").await;
    read("/api/activities/home").await;
    read("/api/activities/home?limit=10").await;

    let handler = |span: &&ReceivedSpan| span.span.name == "home-activities-mock-data";
    let spans = receiver
        .wait_for(|spans| spans.iter().filter(handler).count() == 6)
        .await;
    let mut handlers: Vec<&ReceivedSpan> = spans.iter().filter(handler).collect();
    handlers.sort_by_key(|span| span.span.start_time_unix_nano);
    assert_eq!(
        handlers
            .iter()
            .map(|span| page_kept(span))
            .collect::<Vec<_>>(),
        [
            Some(false),
            Some(true),
            Some(true),
            Some(false),
            Some(true),
            None
        ],
        "read, kept, kept after a health check, read after a post, kept; another page is \
         never kept"
    );
    let feed_reads = spans
        .iter()
        .filter(|span| span.span.name == "SELECT activities")
        .count();
    assert_eq!(
        feed_reads, 3,
        "the cruds are read for the two pages not kept and the other page"
    );
}
