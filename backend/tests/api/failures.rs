//! The database down or locked answers 503 `database_unavailable`, and the app recovers by
//! itself when the database returns.

use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::databases::TestDatabase;
use crate::helpers::{TestApp, error_codes, spawn_app_on};

/// Asks `path` until it answers `status`, for at most 15 seconds; returns the answer.
async fn until_status(app: &TestApp, path: &str, status: u16) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.get(path).await;
        if response.status() == status {
            return response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never answered {status}; last {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_crud(app: &TestApp) -> reqwest::Response {
    app.post_json(
        "/api/activities",
        &json!({"message": "while the database is away", "ttl": "1-day"}),
    )
    .await
}

#[tokio::test]
async fn a_sqlite_file_locked_past_the_wait_answers_503_and_writes_resume_after() {
    let database = TestDatabase::sqlite();
    let (_, directory) = database.env();
    let app = spawn_app_on(database).await;
    let file = format!("sqlite://{directory}/cruddur.db");
    let mut holder = sqlx::SqliteConnection::connect(&file).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let locked = post_crud(&app).await;
    assert_eq!(error_codes(locked, 503).await, ["database_unavailable"]);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_eq!(post_crud(&app).await.status(), 200);
    assert_eq!(
        app.count("/api/activities/home").await,
        5,
        "the seeds and one crud"
    );
}

/// A TCP forwarder between the app and PostgreSQL that can be cut, refusing connections as a
/// stopped server does, and restored on the same port.
struct Link {
    port: u16,
    target_port: u16,
    tasks: Mutex<JoinSet<()>>,
}

impl Link {
    async fn to(target_port: u16) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let link = Link {
            port: listener.local_addr().unwrap().port(),
            target_port,
            tasks: Mutex::new(JoinSet::new()),
        };
        link.serve(listener).await;
        link
    }

    async fn serve(&self, listener: TcpListener) {
        let target_port = self.target_port;
        self.tasks.lock().await.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }

    /// Closes the port and every connection through it.
    async fn cut(&self) {
        let mut tasks = self.tasks.lock().await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener).await;
    }
}

#[tokio::test]
async fn postgresql_out_of_reach_answers_503_and_the_app_recovers_when_it_returns() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let (_, url) = database.env();
    let (before_port, after_port) = url.rsplit_once(':').unwrap();
    let (port, name) = after_port.split_once('/').unwrap();
    let link = Link::to(port.parse().unwrap()).await;
    let proxied = TestDatabase::Postgres {
        url: format!("{before_port}:{}/{name}", link.port),
    };
    let app = spawn_app_on(proxied).await;
    assert_eq!(app.get("/api/activities/home").await.status(), 200);

    link.cut().await;
    let down = until_status(&app, "/api/activities/home", 503).await;
    assert_eq!(error_codes(down, 503).await, ["database_unavailable"]);
    let refused = post_crud(&app).await;
    assert_eq!(error_codes(refused, 503).await, ["database_unavailable"]);

    link.restore().await;
    until_status(&app, "/api/activities/home", 200).await;
    assert_eq!(post_crud(&app).await.status(), 200);
    assert_eq!(
        app.count("/api/activities/home").await,
        5,
        "the seeds and one crud"
    );
}
