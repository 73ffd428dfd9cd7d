//! The relay against hostile input, over HTTP to the real binary: amplification, forged
//! identity, each cap, forwarding headers, budgets, shutdown and the counters.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value as Json;

use crate::helpers::{
    BackendProcess, OtlpReceiver, attribute, spawn_backend, spawn_backend_exporting_to,
    string_attribute,
};

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn span(name: &str, index: usize) -> Span {
    let mut span_id = [0u8; 8];
    span_id[..4].copy_from_slice(&(index as u32 + 1).to_be_bytes());
    Span {
        trace_id: vec![0x69, 0x21, 0xa1, 0xb2, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8],
        span_id: span_id.to_vec(),
        name: name.into(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: 1_795_000_000_000_000_000,
        end_time_unix_nano: 1_795_000_000_100_000_000,
        ..Default::default()
    }
}

fn export(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn spans(count: usize) -> Vec<Span> {
    (0..count).map(|index| span("click", index)).collect()
}

async fn post(
    backend: &BackendProcess,
    export: &ExportTraceServiceRequest,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/traces", backend.address))
        .header("content-type", "application/x-protobuf")
        .body(export.encode_to_vec());
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("the relay answers")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Json = response.json().await.unwrap();
    body["errors"][0].as_str().unwrap_or_default().to_owned()
}

/// Budgets out of the way, for tests about something else.
const UNLIMITED: [(&str, &str); 6] = [
    ("CRUDDUR_RELAY_REQUESTS_PER_SECOND", "100000"),
    ("CRUDDUR_RELAY_REQUEST_BURST", "100000"),
    ("CRUDDUR_RELAY_SPANS_PER_SECOND", "10000000"),
    ("CRUDDUR_RELAY_SPAN_BURST", "10000000"),
    ("CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND", "10000000"),
    ("CRUDDUR_RELAY_GLOBAL_SPAN_BURST", "10000000"),
];

async fn relay_to(receiver: &OtlpReceiver, more: &[(&str, &str)]) -> BackendProcess {
    spawn_backend_exporting_to(&receiver.endpoint, more).await
}

#[tokio::test]
async fn twenty_maximal_exports_leave_the_backends_memory_bounded() {
    let receiver = OtlpReceiver::start().await;
    let mut envs = UNLIMITED.to_vec();
    envs.push(("CRUDDUR_LOCAL_TRACES", "on"));
    let backend = relay_to(&receiver, &envs).await;
    // The most costly shape: a resource as large as the value limits allow, shared by the most
    // spans an export may hold, just under the body cap. Copied into each span, it would cost
    // gigabytes.
    let value = "x".repeat(4_096);
    let resource = (0..96)
        .map(|index| text(&format!("resource.{index}"), &value))
        .collect();
    let maximal = export(resource, spans(2_000));
    let body_bytes = maximal.encoded_len();
    assert!(body_bytes < 512 * 1024, "{body_bytes}");

    let before = backend.resident_kib();
    for _ in 0..20 {
        let response = post(&backend, &maximal, None).await;
        assert_eq!(response.status(), 200);
    }
    // Counted per export: the receiver's span list would copy the resource into every span.
    let forwarded_spans = || {
        receiver
            .exports()
            .iter()
            .flat_map(|export| export.decoded().resource_spans)
            .flat_map(|resource_spans| resource_spans.scope_spans)
            .map(|scope| scope.spans.len())
            .sum::<usize>()
    };
    let waiting = Instant::now();
    while forwarded_spans() < 20 * 2_000 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "forwarded {} spans",
            forwarded_spans()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let grown_kib = backend.resident_kib().saturating_sub(before);
    // What stays is the spans in the local store (its resource held once per export) and the
    // allocator's slack: far from the gigabytes a copied resource costs.
    assert!(
        grown_kib < 64 * 1024,
        "resident memory grew by {grown_kib} KiB after 20 exports of {body_bytes} bytes"
    );
}

#[tokio::test]
async fn a_browser_cannot_pass_for_the_backend_or_a_server() {
    let receiver = OtlpReceiver::start().await;
    let backend = relay_to(
        &receiver,
        &[("CRUDDUR_FRONTEND_SERVICE_NAME", "cruddur-web")],
    )
    .await;
    let mut forged = spans(2);
    forged[0].kind = SpanKind::Server as i32;
    forged[1].kind = SpanKind::Consumer as i32;
    let export = export(
        vec![
            text("service.name", "cruddur-backend"),
            text("cruddur.relayed", "false"),
        ],
        forged,
    );
    assert_eq!(post(&backend, &export, None).await.status(), 200);

    let received = receiver.wait_for(|spans| spans.len() == 2).await;
    for span in &received {
        assert_eq!(
            string_attribute(&span.resource, "service.name"),
            Some("cruddur-web")
        );
        let relayed: Vec<_> = span
            .resource
            .iter()
            .filter(|attribute| attribute.key == "cruddur.relayed")
            .collect();
        assert_eq!(relayed.len(), 1, "one cruddur.relayed, the relay's own");
        assert_eq!(
            attribute(&span.resource, "cruddur.relayed"),
            Some(&any_value::Value::BoolValue(true))
        );
        assert_eq!(span.span.kind, SpanKind::Internal as i32);
    }
    let counts = backend.relay_counts().await;
    assert_eq!(counts["relay"]["trimmed"]["kinds_rewritten"], 2);
}

#[tokio::test]
async fn each_cap_refuses_or_trims_and_is_counted() {
    let receiver = OtlpReceiver::start().await;
    let backend = relay_to(&receiver, &UNLIMITED).await;

    let too_many = export(vec![], spans(2_001));
    let response = post(&backend, &too_many, None).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "too_many_spans");

    let too_large = export(vec![text("big", &"x".repeat(600 * 1024))], spans(1));
    let response = post(&backend, &too_large, None).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");

    let mut crowded = span("crowded", 0);
    crowded.attributes = (0..200)
        .map(|index| text(&format!("key.{index}"), "v"))
        .collect();
    crowded.attributes[0] = text("long", &"é".repeat(3_000));
    crowded.events = (0..150)
        .map(|index| Event {
            name: format!("event {index}"),
            ..Default::default()
        })
        .collect();
    crowded.links = vec![Link::default(); 140];
    let resource = (0..300)
        .map(|index| text(&format!("resource.{index}"), "v"))
        .collect();
    let response = post(&backend, &export(resource, vec![crowded]), None).await;
    assert_eq!(response.status(), 200);

    let received = receiver.wait_for(|spans| spans.len() == 1).await;
    let span = &received[0];
    assert_eq!(span.resource.len(), 128);
    assert_eq!(span.span.attributes.len(), 128);
    assert_eq!(span.span.dropped_attributes_count, 72);
    let long = string_attribute(&span.span.attributes, "long").unwrap();
    assert_eq!(long.len(), 4_096, "truncated to 4,096 bytes");
    assert!(long.chars().all(|character| character == 'é'));
    assert_eq!(span.span.events.len(), 128);
    assert_eq!(span.span.dropped_events_count, 22);
    assert_eq!(span.span.links.len(), 128);
    assert_eq!(span.span.dropped_links_count, 12);

    let counts = backend.relay_counts().await;
    let relay = &counts["relay"];
    assert_eq!(relay["refused"]["too_many_spans"], 1);
    assert_eq!(relay["refused"]["too_large"], 1);
    assert_eq!(relay["spans_refused"], 2_001);
    assert_eq!(relay["exports_accepted"], 1);
    assert_eq!(relay["trimmed"]["events_dropped"], 22);
    assert_eq!(relay["trimmed"]["links_dropped"], 12);
    assert_eq!(relay["trimmed"]["values_truncated"], 1);
    assert_eq!(relay["trimmed"]["attributes_dropped"], 72 + (300 - 126));
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // One export of 60 spans per client: the second needs 20 s of refill at one span a second.
    let one_export = [
        ("CRUDDUR_RELAY_SPANS_PER_SECOND", "1"),
        ("CRUDDUR_RELAY_SPAN_BURST", "100"),
    ];
    let export = export(vec![], spans(60));

    let untrusted = spawn_backend(&one_export).await;
    assert_eq!(
        post(&untrusted, &export, Some("203.0.113.1"))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&untrusted, &export, Some("203.0.113.2"))
            .await
            .status(),
        429,
        "an untrusted peer's X-Forwarded-For is ignored: one bucket"
    );

    let mut envs = one_export.to_vec();
    envs.push(("CRUDDUR_TRUSTED_PROXIES", "127.0.0.0/8"));
    let behind_proxy = spawn_backend(&envs).await;
    let cases = [
        ("198.51.100.7, 203.0.113.1", 200, "a new client"),
        (
            "198.51.100.8, 203.0.113.1",
            429,
            "the same rightmost client, whatever comes first",
        ),
        ("203.0.113.2", 200, "another client"),
        ("2001:db8:0:1::1", 200, "an IPv6 client"),
        ("2001:db8:0:1:ffff::2", 429, "the same /64"),
        ("2001:db8:0:2::1", 200, "another /64"),
    ];
    for (forwarded_for, status, case) in cases {
        let response = post(&behind_proxy, &export, Some(forwarded_for)).await;
        assert_eq!(response.status(), status, "{case}: {forwarded_for}");
    }
}

#[tokio::test]
async fn the_client_address_of_server_spans_comes_from_a_trusted_proxy_only() {
    let receiver = OtlpReceiver::start().await;
    let backend = relay_to(
        &receiver,
        &[
            ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    reqwest::Client::new()
        .get(format!("{}/api/activities/home", backend.address))
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
        .send()
        .await
        .unwrap();
    let spans = receiver
        .wait_for(|spans| {
            spans
                .iter()
                .any(|span| span.span.name == "GET /api/activities/home")
        })
        .await;
    let server = spans
        .iter()
        .find(|span| span.span.name == "GET /api/activities/home")
        .unwrap();
    assert_eq!(
        string_attribute(&server.span.attributes, "client.address"),
        Some("203.0.113.9")
    );
    assert_eq!(
        string_attribute(&server.span.attributes, "network.peer.address"),
        Some("127.0.0.1")
    );
}

#[tokio::test]
async fn span_budgets_per_client_and_for_everyone_answer_429_with_retry_after() {
    let backend = spawn_backend(&[
        ("CRUDDUR_TRUSTED_PROXIES", "127.0.0.1"),
        // Refilling at one span a second, so a slow machine can't refill a bucket mid-test.
        ("CRUDDUR_RELAY_SPANS_PER_SECOND", "1"),
        ("CRUDDUR_RELAY_SPAN_BURST", "100"),
        ("CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND", "1"),
        ("CRUDDUR_RELAY_GLOBAL_SPAN_BURST", "150"),
    ])
    .await;
    let sixty = export(vec![], spans(60));
    assert_eq!(
        post(&backend, &sixty, Some("203.0.113.1")).await.status(),
        200
    );
    let over_own = post(&backend, &sixty, Some("203.0.113.1")).await;
    assert_eq!(
        over_own.status(),
        429,
        "the client's own 100-span burst is spent"
    );
    let retry_after: u64 = over_own.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(over_own).await, "too_many_requests");

    assert_eq!(
        post(&backend, &sixty, Some("203.0.113.2")).await.status(),
        200
    );
    let over_global = post(&backend, &sixty, Some("203.0.113.3")).await;
    assert_eq!(over_global.status(), 429, "everyone's 150 spans are spent");
    assert!(over_global.headers().contains_key("retry-after"));

    let counts = backend.relay_counts().await;
    assert_eq!(counts["relay"]["refused"]["rate_limited"], 2);
    assert_eq!(counts["relay"]["spans_refused"], 120);
}

#[tokio::test]
async fn queued_relay_exports_are_delivered_after_sigterm() {
    let receiver = OtlpReceiver::start_answering_after(Duration::from_millis(100)).await;
    let mut backend = relay_to(&receiver, &UNLIMITED).await;
    for index in 0..8 {
        let export = export(vec![], vec![span(&format!("queued {index}"), index)]);
        assert_eq!(post(&backend, &export, None).await.status(), 200);
    }
    backend.terminate();
    let started = Instant::now();
    let status = backend.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}: {}", backend.stderr());
    let names: Vec<String> = receiver
        .spans()
        .into_iter()
        .map(|span| span.span.name)
        .collect();
    assert_eq!(
        names.len(),
        8,
        "every queued export arrives before the exit, in {:?}: {names:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_client_cannot_hold_the_exit_past_the_shutdown_deadline() {
    let mut backend = spawn_backend(&[("CRUDDUR_SHUTDOWN_TIMEOUT", "1")]).await;
    // A request that never finishes sending its body.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", backend.port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"POST /api/activities HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    backend.terminate();
    let status = backend.wait(Duration::from_secs(8)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "exited after {:?}",
        started.elapsed()
    );
    backend.log_containing("shutdown deadline").await;
}

#[tokio::test]
async fn the_counters_start_at_zero_and_are_logged_at_shutdown_when_something_was_refused() {
    let mut backend = spawn_backend(&[]).await;
    assert_eq!(backend.health().await["status"], "ok");
    let counts = backend.relay_counts().await;
    assert_eq!(counts["relay"]["exports_accepted"], 0);
    assert_eq!(counts["relay"]["refused"]["malformed"], 0);

    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", backend.address))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xffu8; 16])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        backend.relay_counts().await["relay"]["refused"]["malformed"],
        1
    );

    backend.terminate();
    backend.wait(Duration::from_secs(10)).await;
    let log = backend.log_containing("at shutdown").await;
    assert!(log.contains("refused.malformed=1"), "{log}");
}
