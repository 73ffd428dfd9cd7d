//! The exporters when the endpoint misbehaves: it answers 503, 429 with `Retry-After`, refuses
//! connections, or hangs, and then comes back. Requests never wait for the exporters, memory
//! stays bounded, spans the relay could not deliver are counted, and export resumes.
//!
//! The backend's OTLP exporter retries with opentelemetry-otlp's recommended policy: 429, 502,
//! 503, 504 and failed connections, with growing delays within `OTEL_EXPORTER_OTLP_TIMEOUT`, and
//! no sooner than `Retry-After` asks.
//! An X-Ray daemon that is absent is `xray::requests_are_unaffected_when_the_daemon_is_unreachable`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::helpers::{
    BackendProcess, QUICK_EXPORT, closed_port, relay_browser_span, slowest_of,
    spawn_backend_exporting_to,
};

/// How the endpoint answers one export.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    TooManyRequests { retry_after_seconds: u64 },
    Hang,
}

/// One export attempt as the endpoint saw it.
#[derive(Clone, Debug)]
struct Attempt {
    at: Instant,
    span_names: Vec<String>,
    accepted: bool,
}

/// An OTLP/HTTP endpoint that answers from a script, then accepts everything.
#[derive(Clone)]
struct FaultyEndpoint {
    endpoint: String,
    attempts: Arc<Mutex<Vec<Attempt>>>,
}

impl FaultyEndpoint {
    async fn start(script: &[Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        FaultyEndpoint::serve(listener, script)
    }

    fn serve(listener: TcpListener, script: &[Answer]) -> Self {
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let record = attempts.clone();
        let router = Router::new().fallback(move |body: Bytes| {
            let (record, script) = (record.clone(), script.clone());
            async move {
                let answer = script.lock().unwrap().pop_front();
                let span_names = ExportTraceServiceRequest::decode(body)
                    .map(|request| {
                        request
                            .resource_spans
                            .into_iter()
                            .flat_map(|resource| resource.scope_spans)
                            .flat_map(|scope| scope.spans)
                            .map(|span| span.name)
                            .collect()
                    })
                    .unwrap_or_default();
                record.lock().unwrap().push(Attempt {
                    at: Instant::now(),
                    span_names,
                    accepted: answer.is_none(),
                });
                match answer {
                    None => StatusCode::OK.into_response(),
                    Some(Answer::Status(status)) => {
                        StatusCode::from_u16(status).unwrap().into_response()
                    }
                    Some(Answer::TooManyRequests {
                        retry_after_seconds,
                    }) => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", retry_after_seconds.to_string())],
                    )
                        .into_response(),
                    Some(Answer::Hang) => std::future::pending::<Response>().await,
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        FaultyEndpoint { endpoint, attempts }
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    /// Waits until an accepted export carried a span named `name`; returns every attempt.
    async fn wait_for_accepted(&self, name: &str) -> Vec<Attempt> {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let attempts = self.attempts();
                if attempts
                    .iter()
                    .any(|attempt| attempt.accepted && attempt.span_names.iter().any(|n| n == name))
                {
                    return attempts;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("{name} never arrived; got {:#?}", self.attempts()))
    }
}

const HOME: &str = "GET /api/activities/home";

async fn backend_exporting_to(endpoint: &str, extra: &[(&str, &str)]) -> BackendProcess {
    let mut envs = vec![QUICK_EXPORT, ("CRUDDUR_LOCAL_TRACES", "off")];
    envs.extend_from_slice(extra);
    spawn_backend_exporting_to(endpoint, &envs).await
}

#[tokio::test]
async fn a_503_is_retried_with_growing_delays_and_the_spans_arrive() {
    let endpoint = FaultyEndpoint::start(&[Answer::Status(503), Answer::Status(503)]).await;
    let backend = backend_exporting_to(&endpoint.endpoint, &[]).await;
    let slowest = slowest_of(1, &format!("{}/api/activities/home", backend.address)).await;
    let attempts = endpoint.wait_for_accepted(HOME).await;
    let gaps: Vec<Duration> = attempts
        .windows(2)
        .take(2)
        .map(|pair| pair[1].at - pair[0].at)
        .collect();
    eprintln!("503 twice: request {slowest:?}, gaps between attempts {gaps:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(!attempts[0].accepted && !attempts[1].accepted && attempts[2].accepted);
    assert_eq!(
        attempts[0].span_names, attempts[2].span_names,
        "the same batch, retried"
    );
    // Backoff: 100 ms then 200 ms, each plus up to 100 ms of jitter.
    assert!(gaps[0] >= Duration::from_millis(90), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(190), "{gaps:?}");
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    let endpoint = FaultyEndpoint::start(&[Answer::TooManyRequests {
        retry_after_seconds: 2,
    }])
    .await;
    let backend = backend_exporting_to(&endpoint.endpoint, &[]).await;
    let slowest = slowest_of(1, &format!("{}/api/activities/home", backend.address)).await;
    let attempts = endpoint.wait_for_accepted(HOME).await;
    let waited = attempts[1].at - attempts[0].at;
    eprintln!("429 Retry-After: 2: request {slowest:?}, retried after {waited:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(!attempts[0].accepted && attempts[1].accepted);
    assert!(waited >= Duration::from_millis(1950), "{waited:?}");
}

async fn relay_counts(backend: &BackendProcess) -> Value {
    backend.relay_counts().await["relay"].clone()
}

/// Polls `/api/health/relay` until the relay's counters satisfy `done`.
async fn wait_for_counts(backend: &BackendProcess, done: impl Fn(&Value) -> bool) -> Value {
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let counts = relay_counts(backend).await;
            if done(&counts) {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    waited.expect("the relay's counters got there")
}

#[tokio::test]
async fn export_resumes_when_a_refusing_endpoint_comes_back_and_the_relay_counts_its_losses() {
    let port = closed_port().await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let backend = backend_exporting_to(&endpoint, &[]).await;
    let home = format!("{}/api/activities/home", backend.address);

    let slowest_while_refused = slowest_of(20, &home).await;
    relay_browser_span(&backend.address, "lost while down").await;
    let lost = wait_for_counts(&backend, |counts| counts["spans_not_delivered"] == 1).await;
    assert_eq!(lost["spans_forwarded"], 0);

    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let back = FaultyEndpoint::serve(listener, &[]);
    let slowest_when_back = slowest_of(1, &home).await;
    relay_browser_span(&backend.address, "sent when back").await;
    back.wait_for_accepted(HOME).await;
    back.wait_for_accepted("sent when back").await;
    let counts = wait_for_counts(&backend, |counts| counts["spans_forwarded"] == 1).await;
    eprintln!(
        "connection refused then back: slowest of 20 requests while refused {slowest_while_refused:?}, \
         request when back {slowest_when_back:?}, relay {counts}"
    );
    assert_eq!(counts["spans_not_delivered"], 1);
    assert!(slowest_while_refused < Duration::from_secs(1));
}

#[tokio::test]
async fn a_hanging_endpoint_costs_neither_request_time_nor_unbounded_memory() {
    let endpoint = FaultyEndpoint::start(&[Answer::Hang; 64]).await;
    let mut backend = backend_exporting_to(
        &endpoint.endpoint,
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "30000")],
    )
    .await;
    let home = format!("{}/api/activities/home", backend.address);
    slowest_of(100, &home).await;
    let before = backend.resident_kib();
    let started = Instant::now();
    let slowest = slowest_of(1500, &home).await;
    let elapsed = started.elapsed();
    let after = backend.resident_kib();
    eprintln!(
        "hanging endpoint: 1500 requests in {elapsed:?}, slowest {slowest:?}, \
         resident {before} KiB before, {after} KiB after"
    );
    assert_eq!(
        endpoint.attempts().len(),
        1,
        "the exporter waits on its one export"
    );
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // The queue holds at most OTEL_BSP_MAX_QUEUE_SIZE (2048) spans, far less than this.
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "{before} -> {after} KiB"
    );
    // What the full queue dropped is counted, and said at exit.
    backend.terminate();
    assert!(backend.wait(Duration::from_secs(30)).await.success());
    let stderr = backend.stderr();
    let dropped = stderr
        .lines()
        .find(|line| line.contains("dropped_span_count"))
        .unwrap_or_else(|| panic!("no count of dropped spans in {stderr}"));
    eprintln!("at exit: {dropped}");
}
