//! The settings every pooled PostgreSQL connection runs with, read back from the server.

use backend::database::settings::DatabaseLocation;
use backend::database::{Database, Pool};

use crate::databases::TestDatabase;

#[tokio::test]
async fn every_pooled_postgresql_connection_runs_with_memoize_off() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let TestDatabase::Postgres { url } = &database else {
        unreachable!("a PostgreSQL database");
    };
    let Database { pool, .. } = Database::open(&DatabaseLocation::Postgres(url.clone()))
        .await
        .unwrap();
    let Pool::Postgres(pool) = pool else {
        unreachable!("a PostgreSQL pool");
    };
    // Held together, so each is a connection of its own.
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(pool.acquire().await.unwrap());
    }
    for connection in &mut connections {
        let memoize: String = sqlx::query_scalar("SHOW enable_memoize")
            .fetch_one(&mut **connection)
            .await
            .unwrap();
        assert_eq!(memoize, "off");
    }
}
