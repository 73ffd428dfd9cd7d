//! Trace ids between systems: X-Ray's (time first) and W3C's (any 128 bits), through the real
//! binary with a fake X-Ray daemon and OTLP receiver.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{
    FakeXrayDaemon, OtlpReceiver, SAMPLE_ALL, hex, now_seconds, segments, spawn_backend,
};

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_x_ray_root_without_a_parent_is_continued_by_a_root_span_in_that_trace() {
    let daemon = FakeXrayDaemon::start().await;
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ("CRUDDUR_LOCAL_TRACES", "off"),
    ])
    .await;
    // As an ALB sends it: a Root, no Parent, no decision.
    let root = format!("1-{:08x}-0123456789abcdef01234567", now_seconds());
    let trace_id = root[2..].replace('-', "");
    let response = reqwest::Client::new()
        .get(format!("{}/api/activities/home", backend.address))
        .header("x-amzn-trace-id", format!("Root={root}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-amzn-trace-id"),
        format!("Root={root};Sampled=1")
    );
    let traceresponse = header(&response, "traceresponse");
    assert_eq!(traceresponse.split('-').nth(1), Some(trace_id.as_str()));

    let spans = receiver
        .wait_for(|spans| {
            spans
                .iter()
                .any(|span| span.span.kind == SpanKind::Server as i32)
        })
        .await;
    let server = spans
        .iter()
        .find(|span| span.span.kind == SpanKind::Server as i32)
        .unwrap();
    assert_eq!(hex(&server.span.trace_id), trace_id);
    assert!(
        server.span.parent_span_id.is_empty(),
        "a root span, no made-up parent"
    );

    let documents = daemon
        .wait_for(|documents| !segments(documents).is_empty())
        .await;
    let segment = segments(&documents)[0];
    assert_eq!(segment["trace_id"], root);
    assert!(segment.get("parent_id").is_none(), "{segment}");
}

#[tokio::test]
async fn a_w3c_trace_id_that_is_no_x_ray_id_goes_to_otlp_but_not_to_the_daemon() {
    let daemon = FakeXrayDaemon::start().await;
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ("CRUDDUR_LOCAL_TRACES", "off"),
    ])
    .await;
    let client = reqwest::Client::new();
    // Its "time" is 1979: the daemon would refuse it.
    let foreign = "12345678901234567890123456789012";
    let response = client
        .get(format!("{}/api/activities/home", backend.address))
        .header("traceparent", format!("00-{foreign}-1234567890123456-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "x-amzn-trace-id"),
        "Root=1-12345678-901234567890123456789012;Sampled=0"
    );
    assert_eq!(
        header(&response, "traceresponse").split('-').nth(1),
        Some(foreign)
    );
    receiver
        .wait_for(|spans| spans.iter().any(|span| hex(&span.span.trace_id) == foreign))
        .await;

    // A trace of our own is sent, so the daemon was reachable all along.
    let own = client
        .get(format!("{}/api/activities/home", backend.address))
        .send()
        .await
        .unwrap();
    assert!(header(&own, "x-amzn-trace-id").ends_with("Sampled=1"));
    let documents = daemon
        .wait_for(|documents| !segments(documents).is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let documents = [documents, daemon.documents()].concat();
    assert!(
        documents
            .iter()
            .all(|document| document["trace_id"] != "1-12345678-901234567890123456789012"),
        "nothing of the foreign trace reaches the daemon"
    );
    assert!(
        backend.stderr().contains("X-Ray would refuse"),
        "{}",
        backend.stderr()
    );
}
