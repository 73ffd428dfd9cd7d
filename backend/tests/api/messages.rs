use serde_json::{Value, json};

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{error_codes, spawn_app_on};

on_both_databases!(
    message_groups_list_each_conversation_with_its_latest_message,
    a_conversation_holds_the_messages_with_that_user_only,
    a_sent_message_appears_in_its_conversation_and_tops_the_groups,
    an_invalid_message_gets_its_error_codes_and_changes_nothing,
);

fn texts(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["message"].as_str().unwrap())
        .collect()
}

async fn message_groups_list_each_conversation_with_its_latest_message(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let groups = app.get_items("/api/message_groups").await;
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["handle"], "worf");
    assert_eq!(groups[0]["display_name"], "Worf");
    assert_eq!(groups[0]["message"], "This platform is great!");
    assert_eq!(groups[1]["handle"], "garek");
}

async fn a_conversation_holds_the_messages_with_that_user_only(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let worf = app.get_items("/api/messages/@worf").await;
    assert_eq!(texts(&worf), ["Cloud is fun!", "This platform is great!"]);
    let garek = app.get_items("/api/messages/@garek").await;
    assert_eq!(garek.as_array().unwrap().len(), 1);
    assert_eq!(garek[0]["handle"], "garek");
    assert_eq!(app.get_items("/api/messages/@coco").await, json!([]));
    let response = app.get("/api/messages/@nobody").await;
    assert_eq!(error_codes(response, 404).await, ["user_not_found"]);
}

async fn a_sent_message_appears_in_its_conversation_and_tops_the_groups(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let response = app
        .post_json(
            "/api/messages",
            &json!({"message": "Tailor, I need a suit", "user_receiver_handle": "garek"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sent: Value = response.json().await.unwrap();
    assert_eq!(sent["handle"], "andrewbrown");
    let conversation = app.get_items("/api/messages/@garek").await;
    assert_eq!(conversation.as_array().unwrap().last().unwrap(), &sent);
    let groups = app.get_items("/api/message_groups").await;
    assert_eq!(groups[0]["handle"], "garek");
    assert_eq!(groups[0]["message"], "Tailor, I need a suit");
}

async fn an_invalid_message_gets_its_error_codes_and_changes_nothing(database: TestDatabase) {
    let app = spawn_app_on(database).await;
    let cases = [
        (
            json!({"message": "", "user_receiver_handle": "worf"}),
            422,
            vec!["message_blank"],
        ),
        (
            json!({"message": "a".repeat(1025), "user_receiver_handle": "worf"}),
            422,
            vec!["message_exceed_max_chars"],
        ),
        (
            json!({"message": "hi"}),
            422,
            vec!["user_receiver_handle_blank"],
        ),
        (
            json!({"message": "hi", "user_receiver_handle": "andrewbrown"}),
            422,
            vec!["user_receiver_handle_self"],
        ),
        (
            json!({"message": "hi", "user_receiver_handle": "nobody"}),
            404,
            vec!["user_not_found"],
        ),
    ];
    for (body, status, expected) in cases {
        let response = app.post_json("/api/messages", &body).await;
        assert_eq!(error_codes(response, status).await, expected, "for {body}");
    }
    assert_eq!(app.count("/api/messages/@worf").await, 2);
    assert_eq!(app.count("/api/message_groups").await, 2);
}
