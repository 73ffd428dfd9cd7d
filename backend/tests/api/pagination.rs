//! Every list is a page of at most 50, newest first, with a cursor to the next: no response
//! grows with the table.

use serde_json::{Value, json};

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{TestApp, error_codes, spawn_app_on};

on_both_databases!(
    walking_a_feed_by_its_cursor_visits_every_crud_once_newest_first,
    a_page_never_holds_more_than_fifty,
    a_conversation_pages_back_in_time_each_page_read_oldest_first,
    a_cruds_replies_page_back_in_time,
    a_hundred_concurrent_creates_make_a_hundred_cruds,
);

async fn post_crud(app: &TestApp, message: &str) -> Value {
    let response = app
        .post_json(
            "/api/activities",
            &json!({"message": message, "ttl": "1-day"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every item of the list at `path`, page after page of `limit`, and the pages' sizes.
async fn walk(app: &TestApp, path: &str, limit: usize) -> (Vec<Value>, Vec<usize>) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &next {
            url.push_str(&format!("&before={cursor}"));
        }
        let page = app.get_json(&url).await;
        let page_items = page["items"].as_array().unwrap();
        sizes.push(page_items.len());
        items.extend(page_items.iter().cloned());
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return (items, sizes),
        }
        assert!(sizes.len() < 1000, "the pages never end");
    }
}

fn field<'a>(items: &'a [Value], name: &str) -> Vec<&'a str> {
    items
        .iter()
        .map(|item| item[name].as_str().unwrap())
        .collect()
}

async fn walking_a_feed_by_its_cursor_visits_every_crud_once_newest_first(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    for n in 0..7 {
        post_crud(&app, &format!("crud {n}")).await;
    }
    let (items, sizes) = walk(&app, "/api/activities/home", 3).await;
    assert_eq!(sizes, [3, 3, 3, 2], "7 cruds and the 4 seeds");
    let messages = field(&items, "message");
    assert_eq!(
        messages[..7],
        [
            "crud 6", "crud 5", "crud 4", "crud 3", "crud 2", "crud 1", "crud 0"
        ]
    );
    let mut uuids = field(&items, "uuid");
    uuids.sort_unstable();
    uuids.dedup();
    assert_eq!(uuids.len(), 11, "each crud once");
    let (mine, _) = walk(&app, "/api/activities/@andrewbrown", 2).await;
    assert_eq!(mine.len(), 8);
    let (found, _) = walk(&app, "/api/activities/search?term=CRUD%20", 4).await;
    assert_eq!(found.len(), 7);
    let bad = app.get("/api/activities/home?before=yesterday").await;
    assert_eq!(error_codes(bad, 400).await, ["invalid_query"]);
}

async fn a_page_never_holds_more_than_fifty(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    for n in 0..55 {
        post_crud(&app, &format!("crud {n}")).await;
    }
    let page = app.get_json("/api/activities/home?limit=1000").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    let rest = app
        .get_json(&format!(
            "/api/activities/home?before={}",
            page["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 9);
    assert!(rest.get("next").is_none(), "the last page has no next");
}

async fn a_conversation_pages_back_in_time_each_page_read_oldest_first(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    for n in 0..5 {
        let response = app
            .post_json(
                "/api/messages",
                &json!({"message": format!("message {n}"), "user_receiver_handle": "coco"}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let latest = app.get_json("/api/messages/@coco?limit=2").await;
    assert_eq!(
        field(latest["items"].as_array().unwrap(), "message"),
        ["message 3", "message 4"]
    );
    let earlier = app
        .get_json(&format!(
            "/api/messages/@coco?limit=2&before={}",
            latest["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        field(earlier["items"].as_array().unwrap(), "message"),
        ["message 1", "message 2"]
    );
    let (groups, sizes) = walk(&app, "/api/message_groups", 1).await;
    assert_eq!(field(&groups, "handle"), ["coco", "worf", "garek"]);
    assert_eq!(sizes, [1, 1, 1]);
}

async fn a_cruds_replies_page_back_in_time(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let crud = post_crud(&app, "reply to me").await;
    let uuid = crud["uuid"].as_str().unwrap();
    for n in 0..5 {
        let response = app
            .post_json(
                &format!("/api/activities/{uuid}/reply"),
                &json!({"message": format!("reply {n}")}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let (replies, sizes) = walk(&app, &format!("/api/activities/{uuid}/replies"), 2).await;
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(
        field(&replies, "message"),
        ["reply 3", "reply 4", "reply 1", "reply 2", "reply 0"]
    );
    let page = app.get_json(&format!("/api/activities/{uuid}")).await;
    assert_eq!(page["replies_count"], 5);
    assert_eq!(page["replies"].as_array().unwrap().len(), 5);
    let home = app.get_items("/api/activities/home").await;
    assert_eq!(home[0]["replies_count"], 5);
    assert_eq!(
        field(home[0]["replies"].as_array().unwrap(), "message"),
        ["reply 2", "reply 3", "reply 4"],
        "a feed shows a crud's latest few replies"
    );
}

async fn a_hundred_concurrent_creates_make_a_hundred_cruds(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..100 {
        let request = app
            .client
            .post(format!("{}/api/activities", app.address))
            .json(&json!({"message": format!("concurrent {n}"), "ttl": "1-day"}));
        posts.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = posts.join_all().await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let (found, _) = walk(&app, "/api/activities/search?term=concurrent", 50).await;
    let mut messages = field(&found, "message");
    messages.sort_unstable();
    messages.dedup();
    assert_eq!(messages.len(), 100);
}
