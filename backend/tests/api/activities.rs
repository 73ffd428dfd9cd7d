use backend::repository::{PageRequest, Repository};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{error_codes, spawn_app_on};

on_both_databases!(
    the_home_feed_lists_the_seed_cruds_newest_first,
    a_created_crud_appears_at_the_top_of_home_and_on_its_own_page,
    an_invalid_crud_gets_each_of_its_error_codes_and_changes_nothing,
    malformed_requests_get_clear_client_errors,
    an_activity_page_shows_its_replies,
    an_unknown_or_malformed_activity_uuid_is_not_found,
    a_reply_appears_under_its_activity,
    an_invalid_reply_gets_its_error_code_and_changes_nothing,
    a_user_feed_holds_only_that_users_cruds,
    search_finds_cruds_by_their_words_ignoring_case,
    search_ignores_the_case_of_every_script_not_only_ascii,
    notifications_hold_the_cruds_meant_for_the_user,
);

const CLOUD_IS_FUN: &str = "68f126b0-1ceb-4a33-88be-d90fa7109eee";

fn messages(feed: &Value) -> Vec<&str> {
    feed.as_array()
        .unwrap()
        .iter()
        .map(|activity| activity["message"].as_str().unwrap())
        .collect()
}

async fn the_home_feed_lists_the_seed_cruds_newest_first(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let feed = app.get_items("/api/activities/home").await;
    assert_eq!(
        messages(&feed),
        [
            "My dear doctor, I am just simple tailor",
            "Cloud is very fun!",
            "I am white unicorn",
            "I am out of prune juice",
        ]
    );
    let andrew = &feed[1];
    assert_eq!(andrew["uuid"], CLOUD_IS_FUN);
    assert_eq!(andrew["handle"], "andrewbrown");
    assert_eq!(andrew["display_name"], "Andrew Brown");
    assert_eq!(andrew["replies_count"], 1);
    assert_eq!(andrew["replies"][0]["message"], "This post has no honor!");
    assert_eq!(andrew["replies"][0]["handle"], "worf");
    assert_eq!(andrew["replies"][0]["reply_to_activity_uuid"], CLOUD_IS_FUN);
    for field in ["created_at", "expires_at"] {
        let stamp = andrew[field].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{field} is RFC 3339: {stamp}"
        );
    }
}

async fn a_created_crud_appears_at_the_top_of_home_and_on_its_own_page(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let response = app
        .post_json(
            "/api/activities",
            &json!({"message": "Rust is fun too", "ttl": "3-hours"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["message"], "Rust is fun too");
    assert_eq!(created["handle"], "andrewbrown");
    assert_eq!(created["replies"], json!([]));

    let home = app.get_items("/api/activities/home").await;
    assert_eq!(home[0]["uuid"], created["uuid"]);
    let page = app
        .get_json(&format!(
            "/api/activities/{}",
            created["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page, created);
    let own_feed = app.get_items("/api/activities/@andrewbrown").await;
    assert_eq!(own_feed[0]["uuid"], created["uuid"]);
}

async fn an_invalid_crud_gets_each_of_its_error_codes_and_changes_nothing(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let cases = [
        (
            json!({"message": "", "ttl": "7-days"}),
            vec!["message_blank"],
        ),
        (
            json!({"message": "   ", "ttl": "7-days"}),
            vec!["message_blank"],
        ),
        (
            json!({"message": "a".repeat(281), "ttl": "7-days"}),
            vec!["message_exceed_max_chars"],
        ),
        (json!({"message": "hi", "ttl": ""}), vec!["ttl_blank"]),
        (
            json!({"message": "hi", "ttl": "forever"}),
            vec!["ttl_invalid"],
        ),
        (json!({"message": "hi"}), vec!["ttl_blank"]),
        (json!({}), vec!["message_blank", "ttl_blank"]),
        (
            json!({"message": 42, "ttl": "7-days"}),
            vec!["invalid_body"],
        ),
        (json!("not an object"), vec!["invalid_body"]),
    ];
    for (body, expected) in cases {
        let codes = error_codes(app.post_json("/api/activities", &body).await, 422).await;
        assert_eq!(codes, expected, "for {body}");
    }
    assert_eq!(app.count("/api/activities/home").await, 4);
}

async fn malformed_requests_get_clear_client_errors(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let not_json = app
        .post_raw("/api/activities", "application/json", "{\"message\":")
        .await;
    assert_eq!(error_codes(not_json, 400).await, ["malformed_json"]);
    let form = app
        .post_raw(
            "/api/activities",
            "application/x-www-form-urlencoded",
            "message=hi&ttl=1-day",
        )
        .await;
    assert_eq!(error_codes(form, 415).await, ["unsupported_media_type"]);
    let huge = app
        .post_raw(
            "/api/activities",
            "application/json",
            "x".repeat(200 * 1024),
        )
        .await;
    assert_eq!(error_codes(huge, 413).await, ["payload_too_large"]);
    let reply = app
        .post_raw(
            &format!("/api/activities/{CLOUD_IS_FUN}/reply"),
            "text/plain",
            "hello",
        )
        .await;
    assert_eq!(error_codes(reply, 415).await, ["unsupported_media_type"]);
    assert_eq!(app.count("/api/activities/home").await, 4);
}

async fn an_activity_page_shows_its_replies(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let page = app
        .get_json(&format!("/api/activities/{CLOUD_IS_FUN}"))
        .await;
    assert_eq!(page["message"], "Cloud is very fun!");
    assert_eq!(page["replies"][0]["message"], "This post has no honor!");
}

async fn an_unknown_or_malformed_activity_uuid_is_not_found(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    for uuid in ["00000000-0000-4000-8000-000000000000", "not-a-uuid"] {
        let response = app.get(&format!("/api/activities/{uuid}")).await;
        assert_eq!(error_codes(response, 404).await, ["activity_not_found"]);
        let reply = app
            .post_json(
                &format!("/api/activities/{uuid}/reply"),
                &json!({"message": "hi"}),
            )
            .await;
        assert_eq!(error_codes(reply, 404).await, ["activity_not_found"]);
    }
}

async fn a_reply_appears_under_its_activity(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let response = app
        .post_json(
            &format!("/api/activities/{CLOUD_IS_FUN}/reply"),
            &json!({"message": "It has plenty of honor."}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["reply_to_activity_uuid"], CLOUD_IS_FUN);
    assert_eq!(reply["handle"], "andrewbrown");

    let page = app
        .get_json(&format!("/api/activities/{CLOUD_IS_FUN}"))
        .await;
    assert_eq!(page["replies_count"], 2);
    assert_eq!(page["replies"][1], reply);
}

async fn an_invalid_reply_gets_its_error_code_and_changes_nothing(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let path = format!("/api/activities/{CLOUD_IS_FUN}/reply");
    let cases = [
        (json!({"message": ""}), "message_blank"),
        (json!({}), "message_blank"),
        (
            json!({"message": "a".repeat(1025)}),
            "message_exceed_max_chars",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            error_codes(app.post_json(&path, &body).await, 422).await,
            [expected]
        );
    }
    let page = app
        .get_json(&format!("/api/activities/{CLOUD_IS_FUN}"))
        .await;
    assert_eq!(page["replies_count"], 1);
}

async fn a_user_feed_holds_only_that_users_cruds(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let feed = app.get_items("/api/activities/@worf").await;
    assert_eq!(messages(&feed), ["I am out of prune juice"]);
    let response = app.get("/api/activities/@nobody").await;
    assert_eq!(error_codes(response, 404).await, ["user_not_found"]);
}

async fn search_finds_cruds_by_their_words_ignoring_case(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let found = app.get_items("/api/activities/search?term=CLOUD").await;
    assert_eq!(messages(&found), ["Cloud is very fun!"]);
    let nothing = app
        .get_items("/api/activities/search?term=klingon%20opera")
        .await;
    assert_eq!(nothing, json!([]));
    for query in ["", "?term=", "?term=%20%20"] {
        let response = app.get(&format!("/api/activities/search{query}")).await;
        assert_eq!(
            error_codes(response, 422).await,
            ["search_term_blank"],
            "{query}"
        );
    }
    let longer_than_any_crud = "a".repeat(shared::activities::ACTIVITY_MAX_CHARS + 1);
    let response = app
        .get(&format!(
            "/api/activities/search?term={longer_than_any_crud}"
        ))
        .await;
    assert_eq!(error_codes(response, 422).await, ["search_term_too_long"]);
}

async fn search_ignores_the_case_of_every_script_not_only_ascii(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    for message in ["Ένα ÉCLAIR au Café", "Straße nach Москва"] {
        let posted = app
            .post_json(
                "/api/activities",
                &json!({"message": message, "ttl": "1-day"}),
            )
            .await;
        assert_eq!(posted.status(), 200);
    }
    for (term, found) in [
        ("éclair", "Ένα ÉCLAIR au Café"),
        ("ΈΝΑ", "Ένα ÉCLAIR au Café"),
        ("CAFÉ", "Ένα ÉCLAIR au Café"),
        ("москва", "Straße nach Москва"),
        ("straße", "Straße nach Москва"),
    ] {
        let items = app
            .get_items(&format!("/api/activities/search?term={term}"))
            .await;
        assert_eq!(messages(&items), [found], "{term}");
    }
}

async fn notifications_hold_the_cruds_meant_for_the_user(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let notifications = app.get_items("/api/activities/notifications").await;
    assert_eq!(messages(&notifications), ["I am white unicorn"]);
}

#[tokio::test]
async fn cruds_stored_before_search_folded_messages_are_folded_at_startup() {
    let database = TestDatabase::sqlite();
    let repository = database.repository().await;
    let now = OffsetDateTime::now_utc();
    repository
        .create_activity("worf", "QAPLA’ ÉCLAIR", now, now + time::Duration::days(1))
        .await
        .unwrap();
    let mut older = database.sqlite_connection().await;
    sqlx::query("UPDATE activities SET message_folded = ''")
        .execute(&mut older)
        .await
        .unwrap();
    let unfolded = repository
        .search_activities("éclair", PageRequest::first(), now)
        .await
        .unwrap();
    assert!(unfolded.items.is_empty(), "as a database from before is");

    assert!(repository.fold_old_messages().await.unwrap() >= 1);
    let found = repository
        .search_activities("éclair", PageRequest::first(), now)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(repository.fold_old_messages().await.unwrap(), 0, "once");
}
