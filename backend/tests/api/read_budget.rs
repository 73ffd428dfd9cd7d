//! Each client gets a budget of reads on every GET route, and a stricter one for search, so
//! that no client's reads take the database from everyone else.

use std::time::{Duration, Instant};

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{error_codes, spawn_backend};

#[tokio::test]
async fn a_client_past_its_read_or_search_budget_gets_429_with_retry_after_and_others_still_read() {
    let backend = spawn_backend(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("CRUDDUR_READ_BUDGET", "4"),
        ("CRUDDUR_SEARCH_BUDGET", "2"),
        ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let client = reqwest::Client::new();
    let get = |path: &str, from: &str| {
        client
            .get(format!("{}{path}", backend.address))
            .header("x-forwarded-for", from)
            .send()
    };
    let search = "/api/activities/search?term=cloud";
    for _ in 0..2 {
        assert_eq!(get(search, "198.51.100.7").await.unwrap().status(), 200);
    }
    let refused = get(search, "198.51.100.7").await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(error_codes(refused, 429).await, ["too_many_requests"]);

    // Searching spent the search budget only: the reads are all still there.
    for path in [
        "/api/activities/home",
        "/api/activities/notifications",
        "/api/activities/@andrewbrown",
        "/api/message_groups",
    ] {
        assert_eq!(
            get(path, "198.51.100.7").await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let refused = get("/api/activities/home", "198.51.100.7").await.unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_codes(refused, 429).await, ["too_many_requests"]);

    let other = get("/api/activities/home", "198.51.100.8").await.unwrap();
    assert_eq!(other.status(), 200, "another client has its own budget");
    let other = get(search, "198.51.100.8").await.unwrap();
    assert_eq!(other.status(), 200, "and its own searches");
}

on_both_databases!(the_home_feed_answers_within_200_ms_while_twenty_worst_case_searches_run,);

/// Cruds as long as a crud can be, all alike.
const CRUDS: usize = 5_000;

/// `count` cruds of `ACTIVITY_MAX_CHARS` exclamation marks, written straight into the database
/// (folded already, so the folded message search reads is the message itself).
async fn seed_maximal_cruds(database: &TestDatabase, count: usize) {
    let message = "!".repeat(shared::activities::ACTIVITY_MAX_CHARS);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let day: i64 = 86_400 * 1_000_000;
    // The uuids' last 12 hex digits are 8 zeros and 1001 onwards.
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO activities (uuid, user_handle, message, message_folded, created_at, expires_at) \
         SELECT '00000000-0000-4000-8000-00000000' || (1000 + i), 'andrewbrown', '{message}', '{message}', \
         {now} - i, {now} + {day} FROM n"
    );
    database.execute(sql).await;
}

async fn the_home_feed_answers_within_200_ms_while_twenty_worst_case_searches_run(
    database: TestDatabase,
) {
    let (variable, value) = database.env();
    let backend = spawn_backend(&[("OTEL_SDK_DISABLED", "true"), (variable, &value)]).await;
    seed_maximal_cruds(&database, CRUDS).await;
    let client = reqwest::Client::new();
    let home = format!("{}/api/activities/home", backend.address);
    assert_eq!(client.get(&home).send().await.unwrap().status(), 200);

    // Found in no crud, and half as long as one: every search compares it at every place of
    // every crud where it could start, the longest work a term can ask for. With no letter or
    // digit, PostgreSQL's trigram index cannot take it, so it reads every crud; SQLite reads
    // the newest thousand before its index says there are no more.
    let term = format!(
        "{}?",
        "!".repeat(shared::activities::ACTIVITY_MAX_CHARS / 2 - 1)
    );
    let search = format!(
        "{}/api/activities/search?term={}",
        backend.address,
        term.replace('?', "%3F")
    );
    let searches: Vec<_> = (0..20)
        .map(|_| {
            let request = client.get(&search).send();
            tokio::spawn(async move {
                let status = request.await.unwrap().status();
                (status, Instant::now())
            })
        })
        .collect();
    // Long enough for the searches to take every connection they can.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        let response = client.get(&home).send().await.unwrap();
        assert_eq!(response.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    let home_done = Instant::now();

    let mut last_search = None;
    for search in searches {
        let (status, finished) = search.await.unwrap();
        // Each search either answers, or says at once that the database is busy.
        assert!(status == 200 || status == 503, "{status}");
        last_search = last_search.max(Some(finished));
    }
    assert!(
        last_search.unwrap() > home_done,
        "the searches were over before the feed was read: the test tells nothing"
    );
    assert!(
        slowest < Duration::from_millis(200),
        "the home feed took {slowest:?} during the searches"
    );
}

#[tokio::test]
async fn a_postgresql_statement_that_runs_past_the_statement_timeout_is_cancelled() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let TestDatabase::Postgres { url } = &database else {
        unreachable!("a PostgreSQL database");
    };
    let opened = backend::database::Database::open(
        &backend::database::settings::DatabaseLocation::Postgres(url.clone()),
    )
    .await
    .unwrap();
    let backend::database::Pool::Postgres(pool) = &opened.pool else {
        unreachable!("a PostgreSQL pool");
    };
    let started = Instant::now();
    let error = sqlx::query("SELECT 1 FROM (SELECT pg_sleep(30)) AS slept")
        .execute(pool)
        .await
        .expect_err("cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let code = error
        .as_database_error()
        .and_then(|error| error.code())
        .map(|code| code.into_owned());
    assert_eq!(code.as_deref(), Some("57014"), "query_canceled: {error}");
}
