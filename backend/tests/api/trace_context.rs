//! The W3C Trace Context test service (`POST /api/dev/trace-context`) and what it propagates:
//! the cases of the public harness (w3c/trace-context `test/`) that CI can't fetch, end to end
//! through the real binary. `telemetry::propagation`'s unit tests hold the full list.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::{BackendProcess, error_codes, spawn_app, spawn_backend};

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";
const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

/// Plays the harness: keeps the headers of every callback it receives.
#[derive(Clone)]
struct Harness {
    url: String,
    callbacks: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Harness {
    async fn start() -> Self {
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let store = callbacks.clone();
        let router = Router::new().fallback(move |headers: HeaderMap| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(headers);
                "ok"
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callback", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Harness { url, callbacks }
    }

    fn take(&self) -> Vec<HeaderMap> {
        std::mem::take(&mut *self.callbacks.lock().unwrap())
    }
}

async fn test_service() -> BackendProcess {
    spawn_backend(&[
        ("CRUDDUR_DEV_ENDPOINTS", "1"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
        ("CRUDDUR_LOCAL_TRACES", "off"),
    ])
    .await
}

/// Asks the service for `calls` callbacks with the given request headers (repeats allowed);
/// returns the callbacks' `traceparent` and `tracestate` values.
async fn callbacks(
    service: &BackendProcess,
    harness: &Harness,
    headers: &[(&str, &str)],
    calls: usize,
) -> Vec<(Vec<String>, Option<String>)> {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/dev/trace-context", service.address))
        .json(&vec![json!({"url": harness.url, "arguments": []}); calls]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the service answers");
    assert_eq!(response.status(), 200);
    harness
        .take()
        .iter()
        .map(|headers| {
            let traceparents = headers
                .get_all("traceparent")
                .iter()
                .map(|value| value.to_str().unwrap().to_owned())
                .collect();
            let tracestate = headers
                .get("tracestate")
                .map(|value| value.to_str().unwrap().to_owned());
            (traceparents, tracestate)
        })
        .collect()
}

fn fields(traceparent: &str) -> Vec<&str> {
    traceparent.split('-').collect()
}

#[tokio::test]
async fn the_test_service_is_a_404_unless_dev_endpoints_are_on() {
    let app = spawn_app().await;
    let response = app.post_json("/api/dev/trace-context", &json!([])).await;
    assert_eq!(error_codes(response, 404).await, ["not_found"]);
}

#[tokio::test]
async fn the_test_service_continues_the_callers_trace_and_follows_the_specification() {
    let service = test_service().await;
    let harness = Harness::start().await;

    // Each callback is a new CLIENT span in the caller's trace.
    let sent = callbacks(&service, &harness, &[("TraceParent", VALID)], 2).await;
    assert_eq!(sent.len(), 2);
    let ids: Vec<_> = sent
        .iter()
        .map(|(traceparents, _)| {
            assert_eq!(traceparents.len(), 1, "one traceparent per call");
            let fields = fields(&traceparents[0]);
            assert_eq!(fields[0], "00");
            assert_eq!(fields[1], TRACE);
            assert_eq!(fields[3], "01");
            fields[2].to_owned()
        })
        .collect();
    assert_ne!(ids[0], PARENT);
    assert_ne!(ids[0], ids[1], "each call has a span of its own");

    // The known case: a short trace id starts a new trace instead of being padded.
    let short = "00-6b0ceccf0af7651916cd43dd8448eb-c0ffee00c0ffee00-01";
    let sent = callbacks(&service, &harness, &[("traceparent", short)], 1).await;
    let trace = fields(&sent[0].0[0])[1].to_owned();
    assert!(!trace.contains("6b0ceccf0af7651916cd43dd8448eb"), "{trace}");
    assert_eq!(trace.len(), 32);

    // Two traceparent headers: neither is trusted.
    let other = "00-12345678901234567890123456789011-1234567890123456-01";
    let sent = callbacks(
        &service,
        &harness,
        &[("traceparent", VALID), ("traceparent", other)],
        1,
    )
    .await;
    let trace = fields(&sent[0].0[0])[1].to_owned();
    assert!(trace != TRACE && !trace.starts_with("1234567890123456789012345678901"));

    // tracestate over several headers is one list, with keys only the newer grammar allows.
    let sent = callbacks(
        &service,
        &harness,
        &[
            ("traceparent", VALID),
            ("tracestate", "foo=1,bar=2"),
            ("TRACESTATE", " foo@bar@baz=3 ,, "),
            ("tracestate", "rojo=1"),
        ],
        1,
    )
    .await;
    assert_eq!(fields(&sent[0].0[0])[1], TRACE);
    assert_eq!(
        sent[0].1.as_deref(),
        Some("foo=1,bar=2,foo@bar@baz=3,rojo=1")
    );

    // A malformed tracestate is discarded whole; the trace continues.
    let sent = callbacks(
        &service,
        &harness,
        &[("traceparent", VALID), ("tracestate", "foo=,bar=3")],
        1,
    )
    .await;
    assert_eq!(fields(&sent[0].0[0])[1], TRACE);
    assert_eq!(sent[0].1, None);
}

#[tokio::test]
async fn the_test_service_calls_loopback_addresses_only() {
    let service = test_service().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/dev/trace-context", service.address))
        .json(&json!([{"url": "http://169.254.169.254/latest/meta-data/", "arguments": []}]))
        .send()
        .await
        .unwrap();
    assert_eq!(error_codes(response, 422).await, ["invalid_body"]);
}
