//! The product in a real browser: the backend on a free port, the frontend's release bundle
//! served on another with its `config.json`, Debian's Chromium headless driven over WebDriver.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use tower_http::services::{ServeDir, ServeFile};

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{
    BackendProcess, OtlpReceiver, ReceivedSpan, closed_port, hex, spawn_backend, string_attribute,
};

/// The Honeycomb key the backend holds: it must reach the receiver and nothing the browser gets.
const KEY: &str = "e2e-honeycomb-key-0123456789";

/// The developers' build, with the local trace view.
pub const DEVELOPERS_BUILD: &str = "dist";
/// The bundle users download: `--no-default-features`, without the trace view.
pub const USERS_BUNDLE: &str = "dist-users";

pub fn frontend_dist(build: &str) -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../frontend")
        .join(build);
    assert!(
        dist.join("index.html").exists(),
        "build the frontend first: (cd frontend && trunk build --release --offline) for dist/, \
         with --no-default-features --dist dist-users for dist-users/; scripts/test.sh does both"
    );
    dist
}

/// Serves the bundle in `build` on `listener` as a static host would, pointing it at `api_url`.
fn serve_frontend(listener: TcpListener, build: &str, api_url: String) {
    let dist = frontend_dist(build);
    let config = json!({ "api_url": api_url });
    let app = Router::new()
        .route(
            "/config.json",
            get(move || async move { axum::Json(config) }),
        )
        // Client-side routes get the app itself.
        .fallback_service(ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html"))));
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// The backend (with `envs`, X-Ray off) and the bundle in `build` served beside it; returns the
/// app's origin.
pub async fn serve_app(build: &str, envs: &[(&str, &str)]) -> (String, BackendProcess) {
    // The backend allows only the frontend's origin, so the frontend's port comes first.
    let frontend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", frontend.local_addr().unwrap().port());
    let mut all = vec![
        ("FRONTEND_URL", origin.as_str()),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ];
    all.extend_from_slice(envs);
    let backend = spawn_backend(&all).await;
    serve_frontend(frontend, build, backend.address.clone());
    (origin, backend)
}

pub struct Browser {
    pub client: Client,
    _driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub async fn start_browser() -> Browser {
    let port = closed_port().await;
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver is installed (scripts/setup.sh installs it)");
    let profile =
        std::env::temp_dir().join(format!("cruddur-chromium-{}-{port}", std::process::id()));
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1100,900", format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut attempts = 0;
    let client = loop {
        let connected = ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await;
        match connected {
            Ok(client) => break client,
            Err(_) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("chromedriver did not start: {error}"),
        }
    };
    Browser {
        client,
        _driver: driver,
        profile,
    }
}

/// The texts of what matches now; an element the app re-renders meanwhile is skipped.
async fn texts(client: &Client, selector: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in client.find_all(Locator::Css(selector)).await.unwrap() {
        if let Ok(text) = element.text().await {
            texts.push(text);
        }
    }
    texts
}

pub async fn click(client: &Client, target: Locator<'_>) {
    client.find(target).await.unwrap().click().await.unwrap();
}

pub async fn type_into(client: &Client, selector: &str, text: &str) {
    let field = client.find(Locator::Css(selector)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits until the texts of `selector` satisfy `done`.
pub async fn wait_for(
    client: &Client,
    selector: &str,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = texts(client, selector).await;
        if done(&found) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let page = client.source().await.unwrap_or_default();
            panic!("never {what} in {selector}; saw {found:?} on {page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_for_text(client: &Client, selector: &str, expected: &str) {
    let what = format!("{expected:?}");
    wait_for(client, selector, &what, |found| {
        found.iter().any(|text| text == expected)
    })
    .await;
}

fn service_of(span: &ReceivedSpan) -> &str {
    string_attribute(&span.resource, "service.name").unwrap_or_default()
}

pub fn from_browser(span: &ReceivedSpan) -> bool {
    service_of(span) == "cruddur-frontend"
}

pub fn named<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|span| service_of(span) == service && span.span.name == name)
        .collect()
}

pub fn one<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    let found = named(spans, service, name);
    assert!(!found.is_empty(), "no {name} span from {service}");
    found[0]
}

/// The span whose id `child` names as its parent, among `spans`.
pub fn parent_of<'a>(spans: &'a [ReceivedSpan], child: &ReceivedSpan) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|span| {
        span.span.span_id == child.span.parent_span_id && span.span.trace_id == child.span.trace_id
    })
}

/// Unix seconds in the first 8 hex digits, as X-Ray requires: within a day of now.
fn assert_xray_shaped(trace_id: &[u8]) {
    let seconds = u32::from_str_radix(&hex(&trace_id[..4]), 16).unwrap() as u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(seconds) < 86_400,
        "trace id {} does not start with the time",
        hex(trace_id)
    );
}

#[tokio::test]
async fn a_person_reads_the_feed_posts_a_crud_and_opens_notifications_in_one_trace_per_click() {
    let receiver = OtlpReceiver::start().await;
    let headers = format!("x-honeycomb-team={KEY}");
    let (origin, _backend) = serve_app(
        DEVELOPERS_BUILD,
        &[
            ("CRUDDUR_LOCAL_TRACES", "on"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;

    click(client, Locator::Css(".crud-button")).await;
    type_into(client, ".crud-form textarea", "Hello from Chromium").await;
    wait_for_text(client, ".countdown", "261").await;
    click(client, Locator::Css(".crud-form button[type=submit]")).await;
    wait_for(
        client,
        ".activity .message",
        "the new crud on top",
        |messages| {
            messages
                .first()
                .is_some_and(|first| first == "Hello from Chromium")
        },
    )
    .await;
    screenshot(client, "home").await;

    click(client, Locator::LinkText("Notifications")).await;
    wait_for_text(client, ".activity .message", "I am white unicorn").await;
    assert_eq!(client.current_url().await.unwrap().path(), "/notifications");
    // The developer indicator links to the last action's trace.
    wait_for(
        client,
        ".last-trace code",
        "the last action's trace",
        |codes| codes.len() == 1 && codes[0].len() == 8,
    )
    .await;
    // Leaving the page: its last spans (CLS among them) go out with keepalive as it hides.
    client.goto("about:blank").await.unwrap();

    let spans = receiver
        .wait_for(|spans| {
            let browser_names: Vec<&str> = spans
                .iter()
                .filter(|span| from_browser(span))
                .map(|span| span.span.name.as_str())
                .collect();
            ["documentLoad", "routeChange", "cls", "ttfb"]
                .iter()
                .all(|name| browser_names.contains(name))
                && spans
                    .iter()
                    .any(|span| span.span.name == "POST /api/activities")
        })
        .await;
    browser.client.clone().close().await.unwrap();

    // The browser's spans came through the relay, with the key added by the server.
    for export in receiver.exports() {
        let from_the_browser = export.decoded().resource_spans.iter().any(|resource| {
            resource.resource.as_ref().is_some_and(|resource| {
                string_attribute(&resource.attributes, "service.name") == Some("cruddur-frontend")
            })
        });
        if from_the_browser {
            assert_eq!(export.path, "/v1/traces");
            assert_eq!(export.headers["x-honeycomb-team"], KEY);
        }
    }
    let document_load = one(&spans, "cruddur-frontend", "documentLoad");
    assert!(string_attribute(&document_load.resource, "session.id").is_some());
    assert!(
        string_attribute(&document_load.resource, "user_agent.original")
            .is_some_and(|agent| agent.contains("Chrome"))
    );
    let fetched: Vec<&ReceivedSpan> = ["documentFetch", "resourceFetch"]
        .iter()
        .flat_map(|name| named(&spans, "cruddur-frontend", name))
        .collect();
    assert!(
        fetched
            .iter()
            .all(|span| span.span.parent_span_id == document_load.span.span_id),
        "documentFetch and resourceFetch are children of documentLoad"
    );
    assert!(
        fetched
            .iter()
            .any(|span| string_attribute(&span.span.attributes, "url.full")
                .is_some_and(|url| url.ends_with(".wasm"))),
        "the wasm's download is a resourceFetch"
    );

    // One trace for the Crud click: click → POST (CLIENT) → POST /api/activities (SERVER).
    let server_post = one(&spans, "cruddur-backend", "POST /api/activities");
    let client_post = parent_of(&spans, server_post).expect("the server span has a parent");
    assert!(from_browser(client_post));
    assert_eq!(client_post.span.name, "POST");
    assert_eq!(client_post.span.kind, SpanKind::Client as i32);
    assert_eq!(
        string_attribute(&client_post.span.attributes, "http.request.method"),
        Some("POST")
    );
    let crud_click = parent_of(&spans, client_post).expect("the fetch has a parent");
    assert_eq!(crud_click.span.name, "click");
    assert_eq!(
        string_attribute(&crud_click.span.attributes, "app.target.label"),
        Some("Crud")
    );
    assert!(
        crud_click.span.parent_span_id.is_empty(),
        "the click starts the trace"
    );
    assert_xray_shaped(&crud_click.span.trace_id);
    assert!(
        named(&spans, "cruddur-backend", "GET /api/activities/home")
            .iter()
            .any(|feed| feed.span.trace_id == crud_click.span.trace_id),
        "the feed refreshed after the post is part of the click's trace"
    );

    // The click on Notifications: its route change and the feed it loads in the same trace.
    let route_change = named(&spans, "cruddur-frontend", "routeChange")
        .into_iter()
        .find(|span| {
            string_attribute(&span.span.attributes, "app.route.to") == Some("/notifications")
        })
        .expect("a routeChange to /notifications");
    let link_click = parent_of(&spans, route_change).expect("the route change has a parent");
    assert_eq!(
        string_attribute(&link_click.span.attributes, "app.target.label"),
        Some("Notifications")
    );
    let notifications = one(
        &spans,
        "cruddur-backend",
        "GET /api/activities/notifications",
    );
    assert_eq!(notifications.span.trace_id, link_click.span.trace_id);

    // Web vitals, and the page each span was made on.
    for vital in ["ttfb", "cls"] {
        let span = one(&spans, "cruddur-frontend", vital);
        assert!(string_attribute(&span.span.attributes, &format!("{vital}.rating")).is_some());
    }
    assert_eq!(
        string_attribute(&client_post.span.attributes, "page.route"),
        Some("/")
    );

    // The local trace view lists the Crud click's trace with both services, and draws it.
    let crud_trace = hex(&crud_click.span.trace_id);
    let browser = start_browser().await;
    let client = &browser.client;
    client.goto(&format!("{origin}/traces")).await.unwrap();
    let link = format!("a.root-name[href='/traces/{crud_trace}']");
    let row = format!(".trace-row:has({link})");
    wait_for(
        client,
        &format!("{row} .service"),
        "both services",
        |services| {
            services.iter().any(|service| service == "cruddur-frontend")
                && services.iter().any(|service| service == "cruddur-backend")
        },
    )
    .await;
    wait_for(client, &link, "the click", |names| {
        names.iter().any(|name| name.starts_with("click "))
    })
    .await;
    wait_for_text(client, &format!("{row} .route"), "POST /api/activities").await;
    click(client, Locator::Css(&link)).await;
    wait_for(
        client,
        ".span-row.server .span-label",
        "the server's spans",
        |labels| {
            labels
                .iter()
                .any(|label| label.ends_with("POST /api/activities"))
        },
    )
    .await;
    wait_for(
        client,
        ".span-row.browser .span-label",
        "the browser's spans",
        |labels| labels.iter().any(|label| label.ends_with("click")),
    )
    .await;
    wait_for_text(
        client,
        ".trace-ids dd code",
        &format!("1-{}-{}", &crud_trace[..8], &crud_trace[8..]),
    )
    .await;
    click(client, Locator::Css(".span-row.server .span-label")).await;
    wait_for(
        client,
        ".span-details .attributes dt",
        "the attributes",
        |keys| keys.iter().any(|key| key == "http.request.method"),
    )
    .await;
    screenshot(client, "waterfall").await;
    browser.client.clone().close().await.unwrap();

    // Nothing the browser was served holds the key.
    for file in std::fs::read_dir(frontend_dist(DEVELOPERS_BUILD)).unwrap() {
        let served = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !served
                .windows(KEY.len())
                .any(|window| window == KEY.as_bytes())
        );
    }
    let config = reqwest::get(format!("{origin}/config.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!config.contains(KEY));
}

/// Saves what the browser shows as `name`.png beside the test binary, for the README.
pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(screenshots.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn a_person_replies_to_a_crud_searches_and_sends_a_message() {
    let (origin, _backend) = serve_app(DEVELOPERS_BUILD, &[]).await;
    let browser = start_browser().await;
    let client = &browser.client;

    // A crud's page: its replies, an empty reply refused in words, then a reply.
    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    click(client, Locator::LinkText("Cloud is very fun!")).await;
    wait_for_text(client, ".reply .message", "This post has no honor!").await;
    click(client, Locator::Css(".reply-form button[type=submit]")).await;
    wait_for_text(client, ".reply-form .error", "Write something first.").await;
    type_into(client, ".reply-form textarea", "Agreed, it is").await;
    click(client, Locator::Css(".reply-form button[type=submit]")).await;
    wait_for_text(client, ".reply .message", "Agreed, it is").await;
    wait_for(
        client,
        ".reply-form .error",
        "the error gone",
        <[String]>::is_empty,
    )
    .await;
    screenshot(client, "activity").await;

    // Search, from the navigation.
    click(client, Locator::LinkText("Search")).await;
    wait_for_text(client, ".page-header h1", "Search").await;
    type_into(client, ".search-form input", "prune").await;
    click(client, Locator::Css(".search-form button")).await;
    wait_for(client, ".activity .message", "only the match", |found| {
        found == ["I am out of prune juice"]
    })
    .await;
    assert_eq!(
        client.current_url().await.unwrap().query(),
        Some("term=prune")
    );

    // Messages: the groups, a conversation, and a message sent in it.
    click(client, Locator::LinkText("Messages")).await;
    wait_for(
        client,
        ".message-group a.message",
        "the conversations",
        |found| !found.is_empty(),
    )
    .await;
    click(client, Locator::Css(".message-group a.message")).await;
    wait_for(
        client,
        ".message-item .message",
        "the conversation",
        |found| !found.is_empty(),
    )
    .await;
    let conversation = client.current_url().await.unwrap();
    assert!(conversation.path().starts_with("/messages/@"));
    type_into(client, ".message-form textarea", "See you on the holodeck").await;
    click(client, Locator::Css(".message-form button[type=submit]")).await;
    wait_for(
        client,
        ".message-item .message",
        "the message sent",
        |found| {
            found
                .last()
                .is_some_and(|last| last == "See you on the holodeck")
        },
    )
    .await;
    screenshot(client, "conversation").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_users_bundle_posts_cruds_and_leaves_the_trace_view_out() {
    let (origin, _backend) = serve_app(USERS_BUNDLE, &[]).await;
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    click(client, Locator::Css(".crud-button")).await;
    type_into(
        client,
        ".crud-form textarea",
        "Shipped without the trace view",
    )
    .await;
    click(client, Locator::Css(".crud-form button[type=submit]")).await;
    wait_for(
        client,
        ".activity .message",
        "the new crud on top",
        |found| {
            found
                .first()
                .is_some_and(|first| first == "Shipped without the trace view")
        },
    )
    .await;

    let navigation = texts(client, ".sidebar a").await;
    assert!(
        navigation.contains(&"Notifications".to_owned()),
        "{navigation:?}"
    );
    assert!(!navigation.contains(&"Traces".to_owned()), "{navigation:?}");
    client.goto(&format!("{origin}/traces")).await.unwrap();
    wait_for_text(client, ".empty", "There is nothing here.").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_handle_with_encoded_slashes_asks_for_that_users_feed_and_no_other_endpoint() {
    const BACKEND: &str = "cruddur-backend";
    let receiver = OtlpReceiver::start().await;
    let (origin, _backend) = serve_app(
        USERS_BUNDLE,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let browser = start_browser().await;
    // Decoded by the router into `../../../traces`: sent unencoded, the browser would resolve
    // it to /api/traces.
    browser
        .client
        .goto(&format!("{origin}/@..%2F..%2F..%2Ftraces"))
        .await
        .unwrap();

    let feed_request = "GET /api/activities/@{handle}";
    let spans = receiver
        .wait_for(|spans| {
            !named(spans, BACKEND, feed_request).is_empty()
                && !named(spans, BACKEND, "user-activities").is_empty()
        })
        .await;
    let feed = one(&spans, BACKEND, feed_request);
    assert_eq!(
        string_attribute(&feed.span.attributes, "url.path"),
        Some("/api/activities/@..%2F..%2F..%2Ftraces")
    );
    let handler = one(&spans, BACKEND, "user-activities");
    assert_eq!(
        string_attribute(&handler.span.attributes, "app.user_handle"),
        Some("../../../traces")
    );
    let other_paths: Vec<&str> = spans
        .iter()
        .filter(|span| service_of(span) == BACKEND && span.span.kind == SpanKind::Server as i32)
        .filter_map(|span| string_attribute(&span.span.attributes, "url.path"))
        .filter(|path| *path != "/api/activities/@..%2F..%2F..%2Ftraces")
        .collect();
    assert!(other_paths.is_empty(), "{other_paths:?}");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn more_opens_the_older_page_of_a_search_and_back_returns() {
    let (origin, backend) = serve_app(DEVELOPERS_BUILD, &[("CRUDDUR_WRITE_BUDGET", "1000")]).await;
    let api = reqwest::Client::new();
    for n in 0..52 {
        let response = api
            .post(format!("{}/api/activities", backend.address))
            .json(&serde_json::json!({"message": format!("paged crud {n}"), "ttl": "1-day"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let browser = start_browser().await;
    let client = &browser.client;
    client
        .goto(&format!("{origin}/search?term=paged"))
        .await
        .unwrap();
    wait_for(client, ".activity .message", "a full page", |found| {
        found.len() == 50 && found[0] == "paged crud 51"
    })
    .await;
    click(client, Locator::LinkText("More")).await;
    wait_for(client, ".activity .message", "the older page", |found| {
        found == ["paged crud 1", "paged crud 0"]
    })
    .await;
    let url = client.current_url().await.unwrap();
    let query = url.query().unwrap_or_default();
    assert!(
        query.starts_with("term=paged&before="),
        "the search is kept: {query}"
    );
    assert!(
        texts(client, "a.more").await.is_empty(),
        "no more after the last page"
    );
    client.back().await.unwrap();
    wait_for(
        client,
        ".activity .message",
        "the newer page again",
        |found| found.len() == 50,
    )
    .await;
    browser.client.clone().close().await.unwrap();
}
