//! The local trace view's API against the real binary, with no account: off unless switched
//! on; then the backend's spans and the browser's relayed ones, joined in one trace, within
//! the store's caps whatever a client sends.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::{Value, json};
use shared::traces::{RouteReached, TraceDetail, TraceSummary};

use crate::helpers::{closed_port, hex, spawn_backend};

const TRACE_ID: &str = "6921a1b2c3d4e5f60718293a4b5c6d7e";
const CLICK: &str = "0101010101010101";
const FETCH: &str = "0202020202020202";

/// What the browser sends for one click: the click and the fetch it caused.
fn browser_spans() -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let span = |id: &str, parent: &str, name: &str, kind: u8| {
        json!({
            "traceId": TRACE_ID, "spanId": id, "parentSpanId": parent, "name": name, "kind": kind,
            "startTimeUnixNano": (now - 50_000_000).to_string(),
            "endTimeUnixNano": now.to_string()
        })
    };
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "cruddur-frontend"}},
            {"key": "session.id", "value": {"stringValue": "tab-1"}}
        ]},
        "scopeSpans": [{"spans": [
            span(CLICK, "", "click", 1),
            span(FETCH, CLICK, "GET", 3)
        ]}]
    }]})
}

/// Posts the browser's click and fetch to the relay, as the browser would.
async fn relay_browser_spans(client: &reqwest::Client, address: &str) {
    let relayed = client
        .post(format!("{address}/v1/traces"))
        .header("content-type", "application/json")
        .body(browser_spans().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.status(), 200);
}

async fn trace(client: &reqwest::Client, address: &str, trace_id: &str) -> TraceDetail {
    let response = client
        .get(format!("{address}/api/traces/{trace_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn traces(client: &reqwest::Client, address: &str, query: &str) -> Vec<TraceSummary> {
    let response = client
        .get(format!("{address}/api/traces{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_trace_view_joins_the_browsers_spans_and_the_backends_with_no_account() {
    let backend = spawn_backend(&[
        ("CRUDDUR_LOCAL_TRACES", "on"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
        (
            "HONEYCOMB_TRACE_URL",
            "https://ui.honeycomb.io/cruddur/environments/dev/trace?trace_id={trace_id}",
        ),
    ])
    .await;
    let client = reqwest::Client::new();
    let feed = client
        .get(format!("{}/api/activities/home", backend.address))
        .header("traceparent", format!("00-{TRACE_ID}-{FETCH}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    relay_browser_spans(&client, &backend.address).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let joined = loop {
        let listed = traces(&client, &backend.address, "").await;
        if let Some(summary) = listed.into_iter().find(|summary| {
            summary.trace_id == TRACE_ID && summary.services.len() == 2 && summary.span_count >= 4
        }) {
            break summary;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the joined trace never appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(joined.root_name, "click");
    assert_eq!(joined.services, ["cruddur-frontend", "cruddur-backend"]);
    assert_eq!(
        joined.routes,
        [RouteReached {
            name: "GET /api/activities/home".into(),
            error: false
        }]
    );
    assert!(!joined.error);

    let detail = trace(&client, &backend.address, TRACE_ID).await;
    assert_eq!(detail.xray_trace_id, "1-6921a1b2-c3d4e5f60718293a4b5c6d7e");
    assert_eq!(detail.xray_url, None, "X-Ray is off");
    assert_eq!(
        detail.honeycomb_url.as_deref(),
        Some(
            "https://ui.honeycomb.io/cruddur/environments/dev/trace?trace_id=6921a1b2c3d4e5f60718293a4b5c6d7e"
        )
    );
    let server = detail
        .spans
        .iter()
        .find(|span| span.name == "GET /api/activities/home")
        .expect("the backend's span");
    assert_eq!(server.kind, "server");
    assert_eq!(server.parent_span_id.as_deref(), Some(FETCH));
    assert!(
        server
            .attributes
            .iter()
            .any(|attribute| attribute.key == "http.response.status_code"
                && attribute.value == "200")
    );
    let fetch = detail
        .spans
        .iter()
        .find(|span| span.span_id == FETCH)
        .unwrap();
    let tab = &detail.resources[fetch.resource];
    assert_eq!(tab.service, "cruddur-frontend");
    assert!(
        tab.attributes
            .iter()
            .any(|attribute| attribute.key == "session.id" && attribute.value == "tab-1"),
        "{tab:?}"
    );
    assert_ne!(
        detail.resources[server.resource].service, "cruddur-frontend",
        "the backend's spans have a resource of their own"
    );

    // Filters, and the view's own polling leaves no traces behind.
    let frontend_only = traces(&client, &backend.address, "?service=cruddur-frontend").await;
    assert!(
        frontend_only
            .iter()
            .any(|summary| summary.trace_id == TRACE_ID)
    );
    assert!(
        traces(&client, &backend.address, "?errors=true")
            .await
            .is_empty()
    );
    assert!(
        traces(&client, &backend.address, "?min_duration_ms=60000")
            .await
            .is_empty()
    );
    let everything = traces(&client, &backend.address, "").await;
    assert!(
        everything
            .iter()
            .all(|summary| !summary.root_name.contains("/api/traces"))
    );
    let missing = client
        .get(format!("{}/api/traces/{}", backend.address, "f".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"errors": ["trace_not_found"]})
    );
}

async fn assert_off(address: &str) {
    for path in [
        "/api/traces",
        "/api/traces/6921a1b2c3d4e5f60718293a4b5c6d7e",
    ] {
        let response = reqwest::get(format!("{address}{path}")).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"errors": ["local_traces_off"]}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_trace_view_is_off_by_default() {
    let backend = spawn_backend(&[]).await;
    assert_off(&backend.address).await;
}

#[tokio::test]
async fn the_trace_view_is_off_when_switched_off() {
    let backend = spawn_backend(&[("CRUDDUR_LOCAL_TRACES", "off")]).await;
    assert_off(&backend.address).await;
}

const READERS_WARNING: &str =
    "anyone who can reach this address and port reads every user's requests";

#[tokio::test]
async fn the_trace_view_listening_beyond_loopback_warns_who_can_read_it() {
    let everywhere =
        spawn_backend(&[("CRUDDUR_LOCAL_TRACES", "on"), ("CRUDDUR_BIND", "0.0.0.0")]).await;
    assert!(
        everywhere.stderr().contains(READERS_WARNING),
        "{}",
        everywhere.stderr()
    );
    let loopback = spawn_backend(&[
        ("CRUDDUR_LOCAL_TRACES", "on"),
        ("CRUDDUR_BIND", "127.0.0.1"),
    ])
    .await;
    assert!(
        !loopback.stderr().contains(READERS_WARNING),
        "{}",
        loopback.stderr()
    );
}

const BIG_TRACE: [u8; 16] = [0x69, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb1];

/// `count` spans of one trace from one browser tab, numbered from `first`, each a child of the
/// one before, all under one resource.
fn browser_export(first: u64, count: u64) -> ExportTraceServiceRequest {
    let string = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    };
    let spans = (first..first + count)
        .map(|id| {
            let start = 1_795_000_000_000_000_000 + id * 1_000;
            Span {
                trace_id: BIG_TRACE.to_vec(),
                span_id: (id + 1).to_be_bytes().to_vec(),
                parent_span_id: id.to_be_bytes().to_vec(),
                name: format!("span {id}"),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_000,
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", "cruddur-frontend"),
                    string("session.id", "tab-1"),
                    string("user_agent.original", &"Mozilla/5.0 ".repeat(40)),
                ],
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

async fn relay(client: &reqwest::Client, address: &str, export: &ExportTraceServiceRequest) {
    let response = client
        .post(format!("{address}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(export.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_trace_flooded_with_spans_stays_at_its_cap_and_the_list_stays_fast() {
    // The relay's span budgets lifted: the store's caps are what is tested.
    let backend = spawn_backend(&[
        ("CRUDDUR_LOCAL_TRACES", "on"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
        ("CRUDDUR_RELAY_SPANS_PER_SECOND", "100000"),
        ("CRUDDUR_RELAY_SPAN_BURST", "100000"),
        ("CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND", "100000"),
    ])
    .await;
    let client = reqwest::Client::new();
    for export in 0..20 {
        relay(
            &client,
            &backend.address,
            &browser_export(export * 2_000, 2_000),
        )
        .await;
    }

    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        let listed = traces(&client, &backend.address, "").await;
        slowest = slowest.max(started.elapsed());
        let big = listed
            .iter()
            .find(|summary| summary.trace_id == hex(&BIG_TRACE))
            .expect("the flooded trace is listed");
        assert_eq!(big.span_count, 5_000, "the default cap per trace");
        assert_eq!(big.dropped_spans, 35_000);
        assert_eq!(big.root_name, "span 0");
    }
    // Generous for a loaded machine: bench/trace-store.sh measures the real figure.
    assert!(
        slowest < Duration::from_secs(1),
        "GET /api/traces took {slowest:?}"
    );
}

#[tokio::test]
async fn the_spans_past_a_traces_cap_are_dropped_and_their_resource_is_sent_once() {
    let backend = spawn_backend(&[
        ("CRUDDUR_LOCAL_TRACES", "on"),
        ("CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE", "100"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ])
    .await;
    let client = reqwest::Client::new();
    for export in 0..3 {
        relay(&client, &backend.address, &browser_export(export * 50, 50)).await;
    }
    let detail: TraceDetail = client
        .get(format!(
            "{}/api/traces/{}",
            backend.address,
            hex(&BIG_TRACE)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail.spans.len(), 100);
    assert_eq!(
        detail.spans[99].name, "span 99",
        "the first to arrive are kept"
    );
    assert_eq!(detail.dropped_spans, 50);
    assert_eq!(detail.resources.len(), 1, "{:?}", detail.resources);
    assert_eq!(detail.resources[0].service, "cruddur-frontend");
    assert!(detail.spans.iter().all(|span| span.resource == 0));
}

#[tokio::test]
async fn a_trace_found_by_its_xray_id_links_to_xrays_console_in_the_configured_region() {
    let daemon = format!("127.0.0.1:{}", closed_port().await);
    let backend = spawn_backend(&[
        ("CRUDDUR_LOCAL_TRACES", "on"),
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.as_str()),
        ("AWS_REGION", "eu-west-3"),
    ])
    .await;
    let client = reqwest::Client::new();
    relay_browser_spans(&client, &backend.address).await;
    let xray_id = "1-6921a1b2-c3d4e5f60718293a4b5c6d7e";
    let detail = trace(&client, &backend.address, xray_id).await;
    assert_eq!(detail.trace_id, TRACE_ID);
    assert_eq!(
        detail.xray_url.as_deref(),
        Some(
            "https://eu-west-3.console.aws.amazon.com/cloudwatch/home?region=eu-west-3#xray:traces/1-6921a1b2-c3d4e5f60718293a4b5c6d7e"
        )
    );
}
