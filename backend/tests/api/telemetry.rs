use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::net::TcpListener;

use crate::helpers::{
    OtlpReceiver, ReceivedExport, ReceivedSpan, closed_port, hex, int_attribute,
    relay_browser_span, slowest_of, spawn_backend, string_attribute,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
/// Spans leave the batch queue quickly, so tests do not wait the default 5 s.
const QUICK_EXPORT: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "50");

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|span| span.span.name == name).collect()
}

fn server_spans(spans: &[ReceivedSpan]) -> usize {
    spans
        .iter()
        .filter(|span| span.span.kind == SpanKind::Server as i32)
        .count()
}

#[tokio::test]
async fn a_request_with_traceparent_exports_a_server_span_continuing_that_trace() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        QUICK_EXPORT,
    ])
    .await;

    let response = reqwest::Client::new()
        .get(format!("{}/api/activities/home?page=1", backend.address))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
        .header("user-agent", "cruddur-tests/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();

    let spans = receiver
        .wait_for(|spans| {
            ["home-activities-mock-data", "GET /api/activities/home"]
                .iter()
                .all(|name| !named(spans, name).is_empty())
        })
        .await;
    let server = named(&spans, "GET /api/activities/home")[0];
    let span = &server.span;
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(hex(&span.trace_id), TRACE_ID);
    assert_eq!(hex(&span.parent_span_id), PARENT_SPAN_ID);
    assert_eq!(
        traceresponse,
        format!("00-{TRACE_ID}-{}-01", hex(&span.span_id)),
        "traceresponse names the server span"
    );
    let attributes = &span.attributes;
    let expect_text = [
        ("http.request.method", "GET"),
        ("http.route", "/api/activities/home"),
        ("url.path", "/api/activities/home"),
        ("url.query", "page=1"),
        ("url.scheme", "http"),
        ("server.address", "127.0.0.1"),
        ("client.address", "127.0.0.1"),
        ("user_agent.original", "cruddur-tests/1.0"),
        ("network.protocol.version", "1.1"),
    ];
    for (key, value) in expect_text {
        assert_eq!(string_attribute(attributes, key), Some(value), "{key}");
    }
    assert_eq!(
        int_attribute(attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        int_attribute(attributes, "server.port"),
        Some(i64::from(backend.port))
    );
    assert_eq!(string_attribute(attributes, "error.type"), None);
    assert_eq!(
        string_attribute(&server.resource, "service.name"),
        Some("cruddur-backend"),
        "the default service name"
    );

    let custom = &named(&spans, "home-activities-mock-data")[0].span;
    assert_eq!(custom.parent_span_id, span.span_id);
    assert_eq!(custom.trace_id, span.trace_id);
    assert_eq!(
        int_attribute(&custom.attributes, "app.result_length"),
        Some(4)
    );
    let now = string_attribute(&custom.attributes, "app.now").expect("app.now");
    assert!(
        time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339).is_ok(),
        "app.now is a timestamp: {now}"
    );
}

#[tokio::test]
async fn headers_service_name_and_resource_attributes_come_from_the_environment() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-honeycomb-team=hc-secret-key-0123",
        ),
        ("OTEL_SERVICE_NAME", "cruddur-under-test"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=ci,team=crud",
        ),
        QUICK_EXPORT,
    ])
    .await;
    let response = reqwest::get(format!(
        "{}/api/activities/search?term=cloud",
        backend.address
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);

    let spans = receiver
        .wait_for(|spans| !named(spans, "search-activities").is_empty())
        .await;
    let search = named(&spans, "search-activities")[0];
    assert_eq!(
        string_attribute(&search.span.attributes, "app.search_term"),
        Some("cloud")
    );
    let resource = &search.resource;
    assert_eq!(
        string_attribute(resource, "service.name"),
        Some("cruddur-under-test")
    );
    assert_eq!(
        string_attribute(resource, "deployment.environment.name"),
        Some("ci")
    );
    assert_eq!(string_attribute(resource, "team"), Some("crud"));

    let export = &receiver.exports()[0];
    assert_eq!(export.path, "/v1/traces");
    assert_eq!(export.headers["x-honeycomb-team"], "hc-secret-key-0123");
    assert_eq!(export.headers["content-type"], "application/x-protobuf");
    assert!(
        export.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("cruddur-backend/"),
        "the exporter says who it is: {:?}",
        export.headers["user-agent"]
    );
    let log = backend.stderr();
    assert!(
        log.contains("x-honeycomb-team"),
        "the header's name is shown: {log}"
    );
    assert!(
        !log.contains("hc-secret-key-0123"),
        "the key never is: {log}"
    );
}

#[tokio::test]
async fn honeycomb_api_key_goes_to_no_endpoint_but_honeycombs() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("HONEYCOMB_API_KEY", "hc-secret-key-4567"),
        QUICK_EXPORT,
    ])
    .await;
    reqwest::get(format!("{}/api/message_groups", backend.address))
        .await
        .unwrap();
    relay_browser_span(&backend.address, "documentLoad").await;
    receiver
        .wait_for(|spans| {
            !named(spans, "GET /api/message_groups").is_empty()
                && !named(spans, "documentLoad").is_empty()
        })
        .await;
    for export in receiver.exports() {
        assert!(
            !export.headers.contains_key("x-honeycomb-team"),
            "a collector that is not Honeycomb never gets the key"
        );
    }
    assert!(!backend.stderr().contains("hc-secret-key-4567"));
}

#[tokio::test]
async fn the_traces_endpoint_is_used_as_is_and_json_can_be_chosen() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = format!("{}/custom/traces", receiver.endpoint);
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/unused"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        QUICK_EXPORT,
    ])
    .await;
    reqwest::get(format!("{}/api/message_groups", backend.address))
        .await
        .unwrap();
    // The handler's span ends before the request's, so they may come in separate exports.
    let span_names = |export: &ReceivedExport| -> Vec<String> {
        let body: serde_json::Value = serde_json::from_slice(&export.body).unwrap();
        body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|span| span["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !receiver
        .exports()
        .iter()
        .any(|export| span_names(export).contains(&"GET /api/message_groups".to_owned()))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exports = receiver.exports();
    for export in &exports {
        assert_eq!(export.path, "/custom/traces");
        assert_eq!(export.headers["content-type"], "application/json");
    }
    let span_names: Vec<String> = exports.iter().flat_map(span_names).collect();
    assert!(
        span_names.contains(&"GET /api/message_groups".to_owned()),
        "{span_names:?}"
    );
}

#[tokio::test]
async fn health_checks_make_no_spans() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        QUICK_EXPORT,
    ])
    .await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/api/health", backend.address))
        .send()
        .await
        .unwrap();
    assert!(!health.headers().contains_key("traceresponse"));
    client
        .get(format!("{}/api/activities/notifications", backend.address))
        .send()
        .await
        .unwrap();
    let spans = receiver
        .wait_for(|spans| !named(spans, "GET /api/activities/notifications").is_empty())
        .await;
    let paths: Vec<_> = spans
        .iter()
        .filter_map(|span| string_attribute(&span.span.attributes, "url.path"))
        .collect();
    assert!(!paths.contains(&"/api/health"), "{paths:?}");
}

#[tokio::test]
async fn sigterm_flushes_every_queued_span_before_exiting() {
    let receiver = OtlpReceiver::start().await;
    let mut backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        // Nothing leaves the queue on its own during the test.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ])
    .await;
    let client = reqwest::Client::new();
    let requests = 25;
    for _ in 0..requests {
        let response = client
            .get(format!("{}/api/activities/home", backend.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(receiver.exports().is_empty(), "spans are still queued");

    backend.terminate();
    let status = backend.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(server_spans(&receiver.spans()), requests);
    assert_eq!(
        named(&receiver.spans(), "home-activities-mock-data").len(),
        requests
    );
}

/// Accepts connections and never answers: an exporter endpoint that hangs.
async fn hanging_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn requests_do_not_wait_for_an_exporter_that_is_down_or_hangs() {
    let down = format!("http://127.0.0.1:{}", closed_port().await);
    let hanging = hanging_endpoint().await;
    for endpoint in [down, hanging] {
        let backend = spawn_backend(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ])
        .await;
        // Far more spans than the queue holds, while the exporter is stuck on its first batch.
        let url = format!("{}/api/activities/home", backend.address);
        let slowest = slowest_of(200, &url).await;
        // The exporter's timeout is 10 s: a request that waited on it would take that long.
        assert!(
            slowest < Duration::from_secs(2),
            "{endpoint}: slowest {slowest:?}"
        );
    }
}

#[tokio::test]
async fn with_the_sdk_disabled_nothing_is_exported() {
    let receiver = OtlpReceiver::start().await;
    let mut backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_SDK_DISABLED", "true"),
        QUICK_EXPORT,
    ])
    .await;
    let response = reqwest::get(format!("{}/api/activities/home", backend.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("traceresponse"));
    backend.terminate();
    assert!(backend.wait(Duration::from_secs(30)).await.success());
    assert!(receiver.exports().is_empty());
    assert!(backend.stderr().contains("OTEL_SDK_DISABLED=true"));
}
