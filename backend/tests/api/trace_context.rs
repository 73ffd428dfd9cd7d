//! The W3C Trace Context test service (`POST /api/dev/trace-context`) and what it propagates:
//! the cases of the public harness (w3c/trace-context `test/`) that CI can't fetch, end to end
//! through the real binary. `telemetry::propagation`'s unit tests hold the full list.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::{BackendProcess, backend_command, error_codes, spawn_app, spawn_backend};

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
    test_service_with(&[]).await
}

async fn test_service_with(extra: &[(&str, &str)]) -> BackendProcess {
    let mut envs = vec![
        ("CRUDDUR_DEV_ENDPOINTS", "1"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
        ("CRUDDUR_LOCAL_TRACES", "off"),
    ];
    envs.extend_from_slice(extra);
    spawn_backend(&envs).await
}

/// Asks the service to call `url` once; its answer's status.
async fn call_once(service: &BackendProcess, url: &str) -> u16 {
    let request = reqwest::Client::new()
        .post(format!("{}/api/dev/trace-context", service.address))
        .json(&json!([{"url": url, "arguments": []}]));
    send(request, None).await.status().as_u16()
}

/// Sends `request` with `host` as its `Host`, or the address's own when None.
async fn send(mut request: reqwest::RequestBuilder, host: Option<&str>) -> reqwest::Response {
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request.send().await.expect("the service answers")
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

#[tokio::test]
async fn the_test_service_follows_no_redirect() {
    let service = test_service().await;
    let elsewhere = Harness::start().await;
    let location = elsewhere.url.clone();
    let redirecting = Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirecting).await });

    assert_eq!(call_once(&service, &url).await, 200);
    assert!(
        elsewhere.take().is_empty(),
        "a redirect can lead anywhere, so none is followed"
    );
}

#[tokio::test]
async fn the_test_service_calls_through_no_proxy() {
    let proxy = Harness::start().await;
    let proxy_address = proxy.url.trim_end_matches("/callback").to_owned();
    let service = test_service_with(&[
        ("HTTP_PROXY", &proxy_address),
        ("http_proxy", &proxy_address),
        ("ALL_PROXY", &proxy_address),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ])
    .await;
    let harness = Harness::start().await;

    assert_eq!(call_once(&service, &harness.url).await, 200);
    assert_eq!(harness.take().len(), 1, "called directly");
    assert!(proxy.take().is_empty(), "the proxy was never asked");
}

#[tokio::test]
async fn the_test_service_spends_no_write_budget() {
    let service = test_service_with(&[("CRUDDUR_WRITE_BUDGET", "2")]).await;
    let harness = Harness::start().await;
    for _ in 0..6 {
        assert_eq!(call_once(&service, &harness.url).await, 200);
    }
    assert_eq!(harness.take().len(), 6);
}

#[tokio::test]
async fn the_test_service_and_the_trace_view_answer_only_to_this_machines_names() {
    let service = test_service_with(&[("CRUDDUR_LOCAL_TRACES", "on")]).await;
    let harness = Harness::start().await;
    let port = service.port;
    let client = reqwest::Client::new();
    let call = |host: String| {
        let request = client
            .post(format!("{}/api/dev/trace-context", service.address))
            .json(&json!([{"url": harness.url, "arguments": []}]));
        async move { send(request, Some(&host)).await }
    };
    let view = |host: String, path: &str| {
        let request = client.get(format!("{}{path}", service.address));
        async move { send(request, Some(&host)).await }
    };
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        assert_eq!(call(host.clone()).await.status(), 200, "{host}");
        let listed = view(host.clone(), "/api/traces").await;
        assert_eq!(listed.status(), 200, "{host}");
    }
    assert_eq!(harness.take().len(), 4);

    // What DNS rebinding sends: this address under another name.
    for host in [
        format!("rebound.example:{port}"),
        format!("localhost.rebound.example:{port}"),
        "127.0.0.1.nip.io".to_owned(),
    ] {
        let called = call(host.clone()).await;
        let codes = error_codes(called, 403).await;
        assert_eq!(codes, ["host_not_allowed"], "{host}");
        for path in [
            "/api/traces",
            "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            let codes = error_codes(view(host.clone(), path).await, 403).await;
            assert_eq!(codes, ["host_not_allowed"], "{host}");
        }
    }
    assert!(harness.take().is_empty(), "nothing was called for them");
}

#[tokio::test]
async fn dev_endpoints_refuse_to_start_on_an_address_beyond_this_machine() {
    let output = backend_command()
        .env("PORT", "0")
        .env("CRUDDUR_DEV_ENDPOINTS", "1")
        .env("CRUDDUR_BIND", "0.0.0.0")
        .env("OTEL_SDK_DISABLED", "true")
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("it stops at once")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CRUDDUR_BIND") && stderr.contains("loopback"),
        "{stderr}"
    );
}
