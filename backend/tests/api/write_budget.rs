//! Each client gets a budget of writes on every POST route; reads spend a budget of their own
//! (`read_budget.rs`).

use serde_json::json;

use crate::helpers::{error_codes, retry_after_seconds, spawn_backend};

#[tokio::test]
async fn a_client_past_its_write_budget_gets_429_with_retry_after_and_others_still_post() {
    let backend = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_WRITE_BUDGET", "3"),
        ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value, from: &str| {
        client
            .post(format!("{}{path}", backend.address))
            .header("x-forwarded-for", from)
            .json(&body)
            .send()
    };
    let crud = json!({"message": "budgeted", "ttl": "1-day"});
    let message = json!({"message": "hi", "user_receiver_handle": "worf"});
    let reply = json!({"message": "me too"});
    let reply_path = "/api/activities/68f126b0-1ceb-4a33-88be-d90fa7109eee/reply";
    assert_eq!(
        post("/api/activities", crud.clone(), "198.51.100.7")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/api/messages", message.clone(), "198.51.100.7")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(reply_path, reply.clone(), "198.51.100.7")
            .await
            .unwrap()
            .status(),
        200
    );
    for (path, body) in [
        ("/api/activities", crud.clone()),
        ("/api/messages", message),
        (reply_path, reply),
    ] {
        let refused = post(path, body, "198.51.100.7").await.unwrap();
        let retry_after = retry_after_seconds(&refused);
        assert!((1..=20).contains(&retry_after), "{retry_after}");
        assert_eq!(error_codes(refused, 429).await, ["too_many_requests"]);
    }
    let reads = client
        .get(format!("{}/api/activities/home", backend.address))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(reads.status(), 200, "a read spends no write");
    let other = post("/api/activities", crud, "198.51.100.8").await.unwrap();
    assert_eq!(other.status(), 200, "another client has its own budget");
}

#[tokio::test]
async fn a_client_behind_the_proxy_cannot_name_itself_in_a_forwarded_header_of_its_own() {
    let backend = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_WRITE_BUDGET", "3"),
        ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let client = reqwest::Client::new();
    let crud = json!({"message": "who am I", "ttl": "1-day"});
    let post = || {
        client
            .post(format!("{}/api/activities", backend.address))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&crud)
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post().send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    for host in 0..50 {
        let disguised = post()
            .header("forwarded", format!("for=198.51.100.{host}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            disguised.status(),
            429,
            "Forwarded: for=198.51.100.{host} is the client's own word"
        );
    }
}
