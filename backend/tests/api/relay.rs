use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::json;

use crate::helpers::{OtlpReceiver, spawn_backend, string_attribute};

const KEY: &str = "hc-relay-key-4567";

fn browser_export(name: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("cruddur-frontend".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![
                        0x69, 0x21, 0xa1, 0xb2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                    ],
                    span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                    name: name.into(),
                    kind: 3,
                    start_time_unix_nano: 1_795_000_000_000_000_000,
                    end_time_unix_nano: 1_795_000_000_100_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn json_export(name: &str) -> serde_json::Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "cruddur-frontend"}}
        ]},
        "scopeSpans": [{"scope": {"name": "cruddur-frontend"}, "spans": [{
            "traceId": "6921a1b2c3d4e5f60718293a4b5c6d7e",
            "spanId": "0102030405060708",
            "name": name,
            "kind": 1,
            "startTimeUnixNano": "1795000000000000000",
            "endTimeUnixNano": "1795000000100000000"
        }]}]
    }]})
}

#[tokio::test]
async fn browser_spans_reach_the_endpoint_with_the_server_side_key() {
    let receiver = OtlpReceiver::start().await;
    let headers = format!("x-honeycomb-team={KEY}");
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ])
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", backend.address);
    let protobuf = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("origin", "http://localhost:3000")
        .body(browser_export("GET /api/activities/home").encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(protobuf.status(), 200);
    assert_eq!(
        protobuf.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let json = client
        .post(&url)
        .header("content-type", "application/json")
        .body(json_export("documentLoad").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 200);
    assert_eq!(json.text().await.unwrap(), "{}");

    let spans = receiver
        .wait_for(|spans| {
            ["GET /api/activities/home", "documentLoad"]
                .iter()
                .all(|name| spans.iter().any(|span| span.span.name == *name))
        })
        .await;
    let document_load = spans
        .iter()
        .find(|span| span.span.name == "documentLoad")
        .unwrap();
    assert_eq!(
        string_attribute(&document_load.resource, "service.name"),
        Some("cruddur-frontend")
    );
    assert_eq!(
        crate::helpers::hex(&document_load.span.trace_id),
        "6921a1b2c3d4e5f60718293a4b5c6d7e"
    );
    for export in receiver.exports() {
        assert_eq!(
            export.headers["x-honeycomb-team"], KEY,
            "the server adds the key"
        );
    }
    assert!(
        spans
            .iter()
            .all(|span| !span.span.name.contains("/v1/traces")),
        "relaying makes no spans of its own"
    );
}

#[tokio::test]
async fn bad_relay_requests_get_clear_errors_and_are_not_forwarded() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ])
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", backend.address);
    let cases: [(&str, Vec<u8>, u16, &str); 4] = [
        (
            "text/plain",
            b"spans".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/x-protobuf",
            vec![0xff; 64],
            400,
            "malformed_otlp",
        ),
        (
            "application/json",
            b"{\"resourceSpans\": 7}".to_vec(),
            400,
            "malformed_otlp",
        ),
        (
            "application/json",
            vec![b' '; 600 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let response = client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{content_type} {code}");
        let errors: serde_json::Value = response.json().await.unwrap();
        assert_eq!(errors["errors"][0], code);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.exports().is_empty());
}

#[tokio::test]
async fn a_client_flooding_the_relay_is_told_to_slow_down() {
    let backend = spawn_backend(&[("AWS_XRAY_SDK_ENABLED", "false")]).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let response = client
            .post(format!("{}/v1/traces", backend.address))
            .header("content-type", "application/json")
            .body(json_export("click").to_string())
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
}
