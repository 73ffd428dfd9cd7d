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

use crate::helpers::{closed_port, spawn_backend};

fn frontend_dist() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    assert!(
        dist.join("index.html").exists(),
        "build the frontend first: (cd frontend && trunk build --release --offline); scripts/test.sh does"
    );
    dist
}

/// Serves the bundle on `listener` as a static host would, pointing it at `api_url`.
fn serve_frontend(listener: TcpListener, api_url: String) {
    let dist = frontend_dist();
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

struct Browser {
    client: Client,
    _driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn start_browser() -> Browser {
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

async fn click(client: &Client, target: Locator<'_>) {
    client.find(target).await.unwrap().click().await.unwrap();
}

/// Waits until the texts of `selector` satisfy `done`.
async fn wait_for(client: &Client, selector: &str, what: &str, done: impl Fn(&[String]) -> bool) {
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

async fn wait_for_text(client: &Client, selector: &str, expected: &str) {
    let what = format!("{expected:?}");
    wait_for(client, selector, &what, |found| {
        found.iter().any(|text| text == expected)
    })
    .await;
}

#[tokio::test]
async fn a_person_reads_the_feed_posts_a_crud_and_opens_notifications() {
    // The backend allows only the frontend's origin, so the frontend's port comes first.
    let frontend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", frontend.local_addr().unwrap().port());
    let backend = spawn_backend(&[
        ("FRONTEND_URL", origin.as_str()),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ])
    .await;
    serve_frontend(frontend, backend.address.clone());
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;

    click(client, Locator::Css(".crud-button")).await;
    let message = client
        .find(Locator::Css("textarea[name=message]"))
        .await
        .unwrap();
    message.send_keys("Hello from Chromium").await.unwrap();
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
    let screenshot = client.screenshot().await.unwrap();
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(screenshots.join("home.png"), screenshot).unwrap();

    click(client, Locator::LinkText("Notifications")).await;
    wait_for_text(client, ".activity .message", "I am white unicorn").await;
    assert_eq!(client.current_url().await.unwrap().path(), "/notifications");
    browser.client.clone().close().await.unwrap();
}
