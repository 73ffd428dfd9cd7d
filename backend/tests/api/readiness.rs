//! `/api/health/ready` turns not ready the moment the server is told to stop, while the server
//! still serves for the drain delay; then the listener closes.

use std::time::Duration;

use backend::startup::Application;
use backend::startup::TelemetryHandles;

use crate::databases::TestDatabase;
use crate::helpers::{error_codes, in_process_settings, spawn_backend};

#[tokio::test]
async fn ready_answers_503_from_the_stop_on_while_requests_are_served_until_the_drain_delay_ends() {
    let database = TestDatabase::sqlite();
    let settings = in_process_settings(&database, &[("CRUDDUR_DRAIN_DELAY", "2")]);
    let application = Application::build(&settings, TelemetryHandles::default())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    // A connection per request: what is measured is the listener, not a kept-alive connection.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let get = |path: &str| client.get(format!("{address}{path}")).send();

    let ready = get("/api/health/ready").await.unwrap();
    assert_eq!(ready.status(), 200, "ready before the stop");

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let draining = get("/api/health/ready").await.unwrap();
    assert_eq!(error_codes(draining, 503).await, ["shutting_down"]);
    assert_eq!(
        get("/api/health").await.unwrap().status(),
        200,
        "alive while draining: a container is not restarted for it"
    );
    assert_eq!(
        get("/api/activities/home").await.unwrap().status(),
        200,
        "what a load balancer still sends is served"
    );

    tokio::time::timeout(Duration::from_secs(4), running)
        .await
        .expect("the server stops after the drain delay")
        .unwrap()
        .unwrap();
    let refused = get("/api/health/ready").await.unwrap_err();
    assert!(refused.is_connect(), "the listener is closed: {refused}");
}

#[tokio::test]
async fn a_draining_instance_logs_its_not_ready_answers_as_no_failure() {
    let mut backend =
        spawn_backend(&[("OTEL_SDK_DISABLED", "true"), ("CRUDDUR_DRAIN_DELAY", "1")]).await;
    // Once it answers, the signal's handler is in place: SIGTERM before it would just kill.
    let ready = format!("{}/api/health/ready", backend.address);
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);
    backend.terminate();
    backend.log_containing("draining").await;
    let draining = reqwest::get(&ready).await.unwrap();
    assert_eq!(error_codes(draining, 503).await, ["shutting_down"]);
    assert!(backend.wait(Duration::from_secs(10)).await.success());
    let log = backend.stderr();
    assert!(
        !log.contains("ERROR"),
        "a restart is not an error in the log:\n{log}"
    );
}
