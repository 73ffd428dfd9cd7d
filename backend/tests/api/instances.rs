//! Several instances on one PostgreSQL database, as behind a load balancer: one write budget
//! for each client across them, migrations and seed data applied once when they start
//! together, and expired cruds swept once whichever instances sweep.

use std::net::IpAddr;
use std::time::Duration;

use backend::database::Database;
use backend::repository::{Repository, SharedWriteBudgets};
use backend::startup::Application;
use backend::startup::TelemetryHandles;
use serde_json::json;
use sqlx::Connection;
use time::OffsetDateTime;

use crate::databases::TestDatabase;
use crate::expiry::expired_cruds;
use crate::helpers::{error_codes, in_process_settings, retry_after_seconds, serve_in_process};

async fn connect(database: &TestDatabase) -> sqlx::PgConnection {
    let TestDatabase::Postgres { url } = database else {
        panic!("a PostgreSQL test database")
    };
    sqlx::PgConnection::connect(url).await.unwrap()
}

#[tokio::test]
async fn a_clients_write_budget_holds_across_the_instances_on_one_postgresql_database() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let settings = in_process_settings(
        &database,
        &[
            ("CRUDDUR_WRITE_BUDGET", "3"),
            ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    );
    let first = serve_in_process(&settings).await;
    let second = serve_in_process(&settings).await;
    let client = reqwest::Client::new();
    let post = |instance: &str, from: &str| {
        client
            .post(format!("{instance}/api/activities"))
            .header("x-forwarded-for", from)
            .json(&json!({"message": "one budget", "ttl": "1-day"}))
            .send()
    };
    for instance in [&first, &second, &first] {
        assert_eq!(post(instance, "198.51.100.7").await.unwrap().status(), 200);
    }
    let refused = post(&second, "198.51.100.7").await.unwrap();
    let retry_after = retry_after_seconds(&refused);
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_codes(refused, 429).await,
        ["too_many_requests"],
        "three writes spent on two instances are the whole budget"
    );
    assert_eq!(
        post(&second, "198.51.100.8").await.unwrap().status(),
        200,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn a_shared_write_budget_refills_and_forgets_the_clients_idle_for_a_period() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let settings = in_process_settings(&database, &[]);
    let opened = Database::open(&settings.database.location).await.unwrap();
    let budgets =
        SharedWriteBudgets::on(&opened, 2, Duration::from_secs(1)).expect("a PostgreSQL database");
    let client: IpAddr = "203.0.113.9".parse().unwrap();
    assert_eq!(budgets.take(client).await, Ok(Ok(())));
    assert_eq!(budgets.take(client).await, Ok(Ok(())));
    assert_eq!(
        budgets.take(client).await,
        Ok(Err(Duration::from_millis(500))),
        "past the burst: wait for one token"
    );
    assert_eq!(budgets.forget_idle_clients().await, Ok(0), "not idle yet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(budgets.forget_idle_clients().await, Ok(1));
    assert_eq!(
        budgets.take(client).await,
        Ok(Ok(())),
        "a full bucket again"
    );
}

#[tokio::test]
async fn four_instances_starting_at_once_on_an_empty_database_migrate_and_seed_it_once() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let settings = in_process_settings(&database, &[]);
    // Concurrent on one task: `Application::build` is not a future tokio can spawn, and the
    // four still meet at the database, each on its own connections.
    let build = || Application::build(&settings, TelemetryHandles::default());
    let started = tokio::join!(build(), build(), build(), build());
    for instance in [started.0, started.1, started.2, started.3] {
        instance.expect("every instance starts");
    }
    let mut connection = connect(&database).await;
    let migrations: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(
        migrations.len(),
        files,
        "each migration once: {migrations:?}"
    );
    assert!(migrations.iter().all(|(_, success)| *success));

    let Some(reference) = TestDatabase::postgres().await else {
        return;
    };
    Application::build(
        &in_process_settings(&reference, &[]),
        TelemetryHandles::default(),
    )
    .await
    .unwrap();
    let count = "SELECT (SELECT COUNT(*) FROM activities) + (SELECT COUNT(*) FROM messages)";
    let seeded_by_four: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let seeded_by_one: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut connect(&reference).await)
        .await
        .unwrap();
    assert!(seeded_by_one > 0);
    assert_eq!(seeded_by_four, seeded_by_one, "the seed data once");
}

#[tokio::test]
async fn a_sweep_skips_the_expired_cruds_another_instances_sweep_holds_and_waits_for_none() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let repository = database.repository().await;
    expired_cruds(&repository, 6).await;
    // Another instance's batch, under way: three expired rows locked by its delete.
    let mut other = connect(&database).await;
    let mut other_batch = other.begin().await.unwrap();
    sqlx::query(
        "DELETE FROM activities WHERE uuid IN \
         (SELECT uuid FROM activities WHERE message LIKE 'expired %' ORDER BY uuid LIMIT 3)",
    )
    .execute(&mut *other_batch)
    .await
    .unwrap();

    let now = OffsetDateTime::now_utc();
    let swept = tokio::time::timeout(Duration::from_secs(2), repository.delete_expired(now, 500))
        .await
        .expect("the sweep does not wait for the other instance's batch");
    assert_eq!(swept, Ok(3), "the three rows no other sweep holds");
    other_batch.commit().await.unwrap();
    assert_eq!(repository.delete_expired(now, 500).await, Ok(0));
}

#[tokio::test]
async fn four_instances_sweeping_at_once_delete_each_expired_crud_once() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(std::sync::Arc::new(database.repository().await));
    }
    expired_cruds(&instances[0], 200).await;
    let now = OffsetDateTime::now_utc();
    let sweeps: Vec<_> = instances
        .iter()
        .map(|instance| {
            let instance = instance.clone();
            tokio::spawn(async move {
                let mut deleted = 0;
                loop {
                    let went = instance.delete_expired(now, 10).await.unwrap();
                    deleted += went;
                    if went == 0 {
                        return deleted;
                    }
                }
            })
        })
        .collect();
    let mut deleted = 0;
    for sweep in sweeps {
        deleted += sweep.await.unwrap();
    }
    assert_eq!(
        deleted, 200,
        "each expired crud deleted once, by one instance"
    );
}
