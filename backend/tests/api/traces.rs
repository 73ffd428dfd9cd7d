//! The local trace view's API against the real binary, with no account and no variables: the
//! backend's spans and the browser's relayed ones, joined in one trace.

use std::time::Duration;

use serde_json::{Value, json};
use shared::traces::{TraceDetail, TraceSummary};

use crate::helpers::spawn_backend;

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
    let relayed = client
        .post(format!("{}/v1/traces", backend.address))
        .header("content-type", "application/json")
        .body(browser_spans().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.status(), 200);

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
    assert!(!joined.error);

    let detail: TraceDetail = client
        .get(format!("{}/api/traces/{TRACE_ID}", backend.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail.xray_trace_id, "1-6921a1b2-c3d4e5f60718293a4b5c6d7e");
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
    assert_eq!(fetch.service, "cruddur-frontend");
    assert_eq!(fetch.resource[0].value, "tab-1");

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

#[tokio::test]
async fn the_trace_view_is_off_when_switched_off() {
    let backend = spawn_backend(&[("CRUDDUR_LOCAL_TRACES", "off")]).await;
    let response = reqwest::get(format!("{}/api/traces", backend.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"errors": ["local_traces_off"]})
    );
}
