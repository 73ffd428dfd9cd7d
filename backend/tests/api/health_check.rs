//! `backend health-check`, the images' HEALTHCHECK: the binary asks its own server.

use std::time::Duration;

use crate::helpers::{backend_command, closed_port, spawn_backend};

async fn health_check(port: u16) -> std::process::Output {
    let run = backend_command()
        .arg("health-check")
        .env("PORT", port.to_string())
        .env("CRUDDUR_BIND", "127.0.0.1")
        .output();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the health check ends within its deadline")
        .unwrap()
}

#[tokio::test]
async fn the_health_check_succeeds_while_the_server_answers() {
    let backend = spawn_backend(&[("AWS_XRAY_SDK_ENABLED", "false")]).await;
    let checked = health_check(backend.port).await;
    assert!(checked.status.success(), "{checked:?}");
}

#[tokio::test]
async fn the_health_check_fails_and_says_why_when_nothing_answers() {
    let checked = health_check(closed_port().await).await;
    assert!(!checked.status.success());
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(
        said.contains("unhealthy") && said.contains("/api/health"),
        "{said}"
    );
}
