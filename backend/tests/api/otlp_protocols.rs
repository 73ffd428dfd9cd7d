//! How spans leave the backend, its own and the browser's relayed ones alike: OTLP over HTTP
//! (protobuf or JSON) or gRPC, compressed when asked, with the configured headers (as metadata
//! over gRPC), retried as the specification says, never after a redirect; and an unknown
//! protocol or compression stops startup.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use crate::helpers::{
    BackendProcess, GRPC_EXPORT_PATH, OtlpReceiver, QUICK_EXPORT, ReceivedSpan, backend_command,
    relay_browser_span, spawn_backend_exporting_to,
};

const HOME: &str = "GET /api/activities/home";
const KEY: &str = "hc-k3y-for-metadata";

fn has_both(spans: &[ReceivedSpan]) -> bool {
    spans.iter().any(|span| span.span.name == HOME)
        && spans.iter().any(|span| span.span.name == "documentLoad")
}

/// One request's spans, and one browser span through the relay.
async fn a_request_and_a_relayed_span(backend: &BackendProcess) {
    reqwest::get(format!("{}/api/activities/home", backend.address))
        .await
        .unwrap();
    relay_browser_span(&backend.address, "documentLoad").await;
}

#[tokio::test]
async fn with_gzip_or_zstd_asked_the_backends_and_the_browsers_spans_arrive_compressed() {
    for (variable, encoding, magic) in [
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", [0x1f, 0x8b]),
        (
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "zstd",
            [0x28, 0xb5],
        ),
    ] {
        let receiver = OtlpReceiver::start().await;
        let backend =
            spawn_backend_exporting_to(&receiver.endpoint, &[QUICK_EXPORT, (variable, encoding)])
                .await;
        a_request_and_a_relayed_span(&backend).await;
        receiver.wait_for(has_both).await;
        for export in receiver.exports() {
            assert_eq!(export.path, "/v1/traces");
            assert_eq!(export.headers["content-encoding"], encoding);
            assert_eq!(export.headers["content-type"], "application/x-protobuf");
            assert_eq!(export.wire[..2], magic, "{encoding}'s magic number");
        }
    }
}

#[tokio::test]
async fn over_grpc_the_backends_and_the_browsers_spans_arrive_gzip_compressed_with_the_headers_as_metadata()
 {
    let receiver = OtlpReceiver::start_grpc().await;
    let headers = format!("x-honeycomb-team={KEY},x-honeycomb-dataset=cruddur");
    let backend = spawn_backend_exporting_to(
        &receiver.endpoint,
        &[
            QUICK_EXPORT,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
        ],
    )
    .await;
    a_request_and_a_relayed_span(&backend).await;
    receiver.wait_for(has_both).await;
    let exports = receiver.exports();
    for export in &exports {
        assert_eq!(export.path, GRPC_EXPORT_PATH);
        assert_eq!(export.headers["x-honeycomb-team"], KEY);
        assert_eq!(export.headers["x-honeycomb-dataset"], "cruddur");
        assert_eq!(export.headers["grpc-encoding"], "gzip");
    }
    let log = backend.log_containing("exporting spans over OTLP").await;
    assert!(log.contains("grpc") && log.contains("gzip"), "{log}");
    assert!(!log.contains(KEY), "{log}");
}

#[tokio::test]
async fn an_unknown_protocol_or_compression_stops_startup_naming_the_variable_and_the_choices() {
    for (variable, value, choices) in [
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "grpc/json",
            "http/protobuf, http/json or grpc",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "brotli",
            "gzip, zstd or none",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            backend_command()
                .env("PORT", "0")
                .env("CRUDDUR_BIND", "127.0.0.1")
                .env("CRUDDUR_DATA_DIR", data.path())
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
                .env(variable, value)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the backend stops at once")
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{variable} must be {choices}, got \"{value}\"")),
            "{stderr}"
        );
    }
}

/// An endpoint that answers each attempt with `answer(its number, the path)`; with the times
/// of the attempts.
async fn endpoint_answering(
    answer: impl Fn(usize, &str) -> Response + Clone + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let record = attempts.clone();
    let router = Router::new().fallback(move |uri: Uri, _headers: HeaderMap, _body: Bytes| {
        let (record, answer) = (record.clone(), answer.clone());
        async move {
            let number = {
                let mut attempts = record.lock().unwrap();
                attempts.push(Instant::now());
                attempts.len()
            };
            answer(number, uri.path())
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (endpoint, attempts)
}

async fn wait_until(done: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("it happened in time");
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_no_sooner_than_asked() {
    let (endpoint, attempts) = endpoint_answering(|number, _| {
        if number == 1 {
            (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")]).into_response()
        } else {
            StatusCode::OK.into_response()
        }
    })
    .await;
    let backend = spawn_backend_exporting_to(&endpoint, &[QUICK_EXPORT]).await;
    reqwest::get(format!("{}/api/activities/home", backend.address))
        .await
        .unwrap();
    wait_until(|| attempts.lock().unwrap().len() >= 2).await;
    let attempts = attempts.lock().unwrap().clone();
    let waited = attempts[1] - attempts[0];
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

#[tokio::test]
async fn no_export_follows_a_redirect_so_no_header_reaches_another_host() {
    let elsewhere = OtlpReceiver::start().await;
    let target = elsewhere.endpoint.clone();
    let (endpoint, attempts) = endpoint_answering(move |_, path| {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", format!("{target}{path}"))],
        )
            .into_response()
    })
    .await;
    let backend = spawn_backend_exporting_to(
        &endpoint,
        &[
            QUICK_EXPORT,
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=k3y"),
        ],
    )
    .await;
    a_request_and_a_relayed_span(&backend).await;
    // The backend's batch and the relay's export both asked, and were redirected.
    wait_until(|| attempts.lock().unwrap().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        elsewhere.exports().is_empty(),
        "nothing followed the redirect"
    );
}
