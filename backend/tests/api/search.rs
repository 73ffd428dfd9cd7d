//! Search finds every crud whose message holds the term, in any case, anywhere: inside a word,
//! across words, however short the term, its `%`, `_`, `\` and quotes as they are; by index
//! among many cruds as among few.

use serde_json::json;

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{TestApp, spawn_app_on};

on_both_databases!(
    search_finds_a_term_inside_words_and_across_them_in_any_case,
    search_takes_percent_underscore_backslash_and_quotes_in_a_term_literally,
    search_finds_a_crud_behind_a_thousand_newer_ones_and_pages_through_a_frequent_term,
);

async fn post(app: &TestApp, message: &str) {
    let response = app
        .post_json(
            "/api/activities",
            &json!({"message": message, "ttl": "1-day"}),
        )
        .await;
    assert_eq!(response.status(), 200, "{message}");
}

/// The messages a search for `term` finds, newest first.
async fn found(app: &TestApp, term: &str) -> Vec<String> {
    let mut url = url::Url::parse("http://search.test/api/activities/search").unwrap();
    url.query_pairs_mut().append_pair("term", term);
    let items = app
        .get_items(&format!("{}?{}", url.path(), url.query().unwrap()))
        .await;
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Posts `messages`, then searches for each term, expecting the messages it gives, newest first.
async fn posted_and_searched(database: TestDatabase, messages: &[&str], cases: &[(&str, &[&str])]) {
    let app = spawn_app_on(database).await;
    for message in messages {
        post(&app, message).await;
    }
    for (term, expected) in cases {
        assert_eq!(found(&app, term).await, *expected, "{term}");
    }
}

async fn search_finds_a_term_inside_words_and_across_them_in_any_case(database: TestDatabase) {
    let cloudberries = "Cloudberries grow on Qo'noS";
    posted_and_searched(
        database,
        &[cloudberries, "A SHORT crud"],
        &[
            ("BERR", &[cloudberries]),
            ("es grow o", &[cloudberries]),
            ("qo'nos", &[cloudberries]),
            ("t c", &["A SHORT crud"]),
            ("rt", &["A SHORT crud"]),
            ("Q", &[cloudberries]),
            ("crud", &["A SHORT crud"]),
            ("short crud!", &[]),
        ],
    )
    .await;
}

async fn search_takes_percent_underscore_backslash_and_quotes_in_a_term_literally(
    database: TestDatabase,
) {
    let quoted = r#"say "hi" now"#;
    posted_and_searched(
        database,
        &[
            "100% sure",
            "1000 sure",
            "snake_case",
            "snakeXcase",
            r"back\slash",
            quoted,
            "say hi now",
        ],
        &[
            ("%", &["100% sure"]),
            ("0%", &["100% sure"]),
            ("00% s", &["100% sure"]),
            ("_", &["snake_case"]),
            ("e_c", &["snake_case"]),
            ("%_", &[]),
            (r"\", &[r"back\slash"]),
            (r"k\s", &[r"back\slash"]),
            ("\"", &[quoted]),
            (r#""hi""#, &[quoted]),
            ("hi AND now", &[]),
            ("*", &[]),
        ],
    )
    .await;
}

async fn search_finds_a_crud_behind_a_thousand_newer_ones_and_pages_through_a_frequent_term(
    database: TestDatabase,
) {
    const NEWER: usize = 1_100;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let day: i64 = 86_400 * 1_000_000;
    // The schema first, then the rows straight in, many more than through the API.
    database.migrate_to(i64::MAX).await;
    database
        .execute(format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {NEWER}) \
             INSERT INTO activities (uuid, user_handle, message, message_folded, created_at, expires_at) \
             SELECT '00000000-0000-4000-8000-00000000' || (1000 + i), 'worf', 'A frequent crud', \
             'a frequent crud', {now} - i, {now} + {day} FROM n; \
             INSERT INTO activities (uuid, user_handle, message, message_folded, created_at, expires_at) \
             VALUES ('00000000-0000-4000-8000-000000000001', 'garek', 'The NEEDLE', 'the needle', \
             {now} - 1000000, {now} + {day})"
        ))
        .await;
    let app = spawn_app_on(database).await;
    assert_eq!(found(&app, "needle").await, ["The NEEDLE"]);
    assert_eq!(found(&app, "the needle").await, ["The NEEDLE"]);

    let mut seen = std::collections::HashSet::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = "/api/activities/search?term=FREQUENT".to_owned();
        if let Some(cursor) = &next {
            path.push_str(&format!("&before={cursor}"));
        }
        let page = app.get_json(&path).await;
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["uuid"].as_str().unwrap().to_owned()),
                "{item}"
            );
        }
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), NEWER, "every frequent crud once");
}
