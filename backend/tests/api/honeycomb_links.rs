//! Links to Honeycomb without configuring them: the backend asks a stand-in for Honeycomb's
//! auth endpoint (`HONEYCOMB_API_ENDPOINT`) which team and environment its key belongs to,
//! and `GET /api/trace-link` gives the browser the link's template, and nothing else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use backend::configuration::Settings;
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;

use crate::databases::TestDatabase;
use crate::helpers::{FRONTEND_ORIGIN, serve_in_process};

pub const KEY: &str = "hc-key-for-the-auth-stand-in";

/// Honeycomb's `/1/auth` on a free port: answers `status` and `body`, and keeps what it was
/// asked (path and key).
pub struct AuthStandIn {
    pub address: String,
    asked: Arc<Mutex<Vec<(String, String)>>>,
}

impl AuthStandIn {
    pub async fn start(status: StatusCode, body: Json) -> Self {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (log, body) = (log.clone(), body.clone());
            async move {
                let key = headers
                    .get("x-honeycomb-team")
                    .and_then(|key| key.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push((uri.path().to_owned(), key));
                (status, axum::Json(body))
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        AuthStandIn { address, asked }
    }

    fn asked(&self) -> Vec<(String, String)> {
        self.asked.lock().unwrap().clone()
    }

    /// Waits, a few seconds at most, for the backend's lookup to arrive.
    async fn wait_until_asked(&self) {
        for _ in 0..100 {
            if !self.asked().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the backend never asked Honeycomb's API");
    }
}

/// The app in this process, its spans for Honeycomb (`x-honeycomb-team`) and Honeycomb's API at
/// `api`, with `extra` variables: its address, and its database, which lives as long as the
/// test holds it.
async fn spawn_app_for_honeycomb(api: &str, extra: &[(&str, &str)]) -> (String, TestDatabase) {
    let headers = format!("x-honeycomb-team={KEY}");
    let database = TestDatabase::sqlite();
    let (database_variable, database_value) = database.env();
    let mut variables: Vec<(String, String)> = vec![
        (database_variable.to_owned(), database_value),
        ("PORT".into(), "0".into()),
        ("FRONTEND_URL".into(), FRONTEND_ORIGIN.into()),
        // Spans are never exported in this process; the relay's endpoint goes nowhere.
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS".into(), headers),
        ("HONEYCOMB_API_ENDPOINT".into(), api.into()),
    ];
    variables.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    let settings = Settings::from_lookup(|name| {
        variables
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone())
    })
    .expect("the test settings are valid");
    (serve_in_process(&settings).await, database)
}

async fn trace_link(app: &str) -> Json {
    let response = reqwest::get(format!("{app}/api/trace-link")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.contains(KEY), "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The template once the backend has learned it.
async fn learned_template(app: &str) -> String {
    for _ in 0..100 {
        if let Some(template) = trace_link(app).await["template"].as_str() {
            return template.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backend never learned the link");
}

#[tokio::test]
async fn an_environments_key_links_traces_to_its_team_and_environment() {
    let honeycomb = AuthStandIn::start(
        StatusCode::OK,
        json!({
            "api_key_access": {"events": true},
            "team": {"name": "Cruddur", "slug": "cruddur"},
            "environment": {"name": "Production", "slug": "production"}
        }),
    )
    .await;
    let (app, _database) = spawn_app_for_honeycomb(&honeycomb.address, &[]).await;

    assert_eq!(
        learned_template(&app).await,
        "https://ui.honeycomb.io/cruddur/environments/production/trace?trace_id={trace_id}"
    );
    assert_eq!(
        honeycomb.asked(),
        [("/1/auth".to_owned(), KEY.to_owned())],
        "asked once, at startup, with the key"
    );
}

#[tokio::test]
async fn a_classic_key_links_traces_by_dataset() {
    let honeycomb = AuthStandIn::start(
        StatusCode::OK,
        json!({
            "team": {"name": "Cruddur", "slug": "cruddur"},
            "environment": {"name": "", "slug": ""}
        }),
    )
    .await;
    let (app, _database) = spawn_app_for_honeycomb(&honeycomb.address, &[]).await;

    assert_eq!(
        learned_template(&app).await,
        "https://ui.honeycomb.io/cruddur/datasets/cruddur%2Dbackend/trace?trace_id={trace_id}"
    );
}

#[tokio::test]
async fn a_refused_key_leaves_traces_unlinked_and_the_app_serving() {
    let honeycomb = AuthStandIn::start(
        StatusCode::UNAUTHORIZED,
        json!({"error": "unknown API key - check your credentials"}),
    )
    .await;
    let (app, _database) = spawn_app_for_honeycomb(&honeycomb.address, &[]).await;

    honeycomb.wait_until_asked().await;
    assert_eq!(honeycomb.asked().len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(trace_link(&app).await, json!({ "template": null }));
    let feed = reqwest::get(format!("{app}/api/activities/home"))
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
}

#[tokio::test]
async fn an_answer_larger_than_any_auth_answer_is_not_read_and_leaves_traces_unlinked() {
    let padding = "x".repeat(100 * 1024);
    let honeycomb = AuthStandIn::start(
        StatusCode::OK,
        json!({
            "padding": padding,
            "team": {"name": "Cruddur", "slug": "cruddur"},
            "environment": {"name": "Production", "slug": "production"}
        }),
    )
    .await;
    let (app, _database) = spawn_app_for_honeycomb(&honeycomb.address, &[]).await;

    honeycomb.wait_until_asked().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(trace_link(&app).await, json!({ "template": null }));
}

#[tokio::test]
async fn honeycomb_trace_url_overrides_the_lookup_which_is_then_never_made() {
    let honeycomb = AuthStandIn::start(StatusCode::OK, json!({"team": {"slug": "t"}})).await;
    let template = "https://ui.honeycomb.io/mine/environments/dev/trace?trace_id={trace_id}";
    let (app, _database) =
        spawn_app_for_honeycomb(&honeycomb.address, &[("HONEYCOMB_TRACE_URL", template)]).await;

    assert_eq!(trace_link(&app).await, json!({ "template": template }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(honeycomb.asked().is_empty());
}
