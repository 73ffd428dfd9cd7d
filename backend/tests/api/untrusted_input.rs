//! What a client sends (methods, paths, queries, headers, trace headers) reaches the spans of
//! both exporters only within bounds, and its credentials never do: the real binary, a fake
//! OTLP receiver and a fake X-Ray daemon.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    FakeXrayDaemon, OtlpReceiver, QUICK_EXPORT, ReceivedSpan, SAMPLE_ALL, SAMPLE_NONE, now_seconds,
    segments, spawn_backend, spawn_traced_backend, string_attribute,
};

/// The largest datagram the X-Ray daemon takes, its header line included.
const MAX_DATAGRAM_BYTES: usize = 64 * 1000;

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|span| span.span.name == name)
}

#[tokio::test]
async fn long_values_are_cut_to_the_span_attribute_value_length_limit_between_characters() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "61"),
        QUICK_EXPORT,
    ])
    .await;
    let client = reqwest::Client::new();
    let search = client
        .get(format!(
            "{}/api/activities/search?term={}",
            backend.address,
            "%C3%A9".repeat(100)
        ))
        .header("user-agent", "a".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), 200);
    let handle = "ü".repeat(100);
    let feed = client
        .get(format!("{}/api/activities/@{handle}", backend.address))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 404);

    let spans = receiver
        .wait_for(|spans| {
            ["search-activities", "user-activities"]
                .iter()
                .all(|name| named(spans, name).is_some())
                && spans
                    .iter()
                    .filter(|span| span.span.kind == SpanKind::Server as i32)
                    .count()
                    == 2
        })
        .await;
    let search_span = &named(&spans, "search-activities").unwrap().span;
    assert_eq!(
        string_attribute(&search_span.attributes, "app.search_term"),
        Some("é".repeat(30).as_str()),
        "61 bytes end inside the 31st é: 30 of them are kept"
    );
    let server = named(&spans, "GET /api/activities/search").unwrap();
    let query = string_attribute(&server.span.attributes, "url.query").unwrap();
    assert_eq!(query.len(), 61);
    assert!(query.starts_with("term=%C3%A9"), "{query}");
    assert_eq!(
        string_attribute(&server.span.attributes, "user_agent.original"),
        Some("a".repeat(61).as_str())
    );
    let feed_span = &named(&spans, "user-activities").unwrap().span;
    assert_eq!(
        string_attribute(&feed_span.attributes, "app.user_handle"),
        Some("ü".repeat(30).as_str())
    );
    let feed_server = named(&spans, "GET /api/activities/@{handle}").unwrap();
    let path = string_attribute(&feed_server.span.attributes, "url.path").unwrap();
    assert_eq!(path.len(), 61);
    assert!(path.starts_with("/api/activities/@%C3%BC"), "{path}");
}

#[tokio::test]
async fn an_unknown_method_is_other_with_its_original_and_names_the_span_http() {
    let receiver = OtlpReceiver::start().await;
    let backend = spawn_backend(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        QUICK_EXPORT,
    ])
    .await;
    let client = reqwest::Client::new();
    for (method, path) in [("PURGE", "/nowhere"), ("get", "/api/activities/home")] {
        let response = client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", backend.address),
            )
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{method} {path}");
    }

    let spans = receiver
        .wait_for(|spans| {
            spans
                .iter()
                .filter(|span| span.span.kind == SpanKind::Server as i32)
                .count()
                == 2
        })
        .await;
    let unmatched = named(&spans, "HTTP").expect("a span named HTTP");
    let attributes = &unmatched.span.attributes;
    assert_eq!(
        string_attribute(attributes, "http.request.method"),
        Some("_OTHER")
    );
    assert_eq!(
        string_attribute(attributes, "http.request.method_original"),
        Some("PURGE")
    );
    let routed = named(&spans, "HTTP /api/activities/home").expect("the route after HTTP");
    assert_eq!(
        string_attribute(&routed.span.attributes, "http.request.method_original"),
        Some("get"),
        "methods are case-sensitive"
    );
    assert_eq!(
        string_attribute(&routed.span.attributes, "http.request.method"),
        Some("_OTHER")
    );
}

#[tokio::test]
async fn authorization_and_cookie_headers_reach_neither_exporter() {
    const SECRET: &str = "s3cr3t-never-exported";
    let (receiver, daemon, backend) = spawn_traced_backend(&[]).await;
    let client = reqwest::Client::new();
    let read = client
        .get(format!("{}/api/activities/home", backend.address))
        .header("authorization", format!("Bearer {SECRET}"))
        .header("cookie", format!("session={SECRET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = client
        .post(format!("{}/api/activities", backend.address))
        .header("authorization", format!("Basic {SECRET}"))
        .header("cookie", format!("session={SECRET}; theme=dark"))
        .json(&json!({"message": "secrets stay home", "ttl": "7-days"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 200);

    let spans = receiver
        .wait_for(|spans| {
            named(spans, "GET /api/activities/home").is_some()
                && named(spans, "POST /api/activities").is_some()
        })
        .await;
    let documents = daemon
        .wait_for(|documents| segments(documents).len() == 2)
        .await;

    for export in receiver.exports() {
        let body = String::from_utf8_lossy(&export.body);
        assert!(!body.contains(SECRET), "an OTLP export holds the secret");
    }
    for span in &spans {
        for attribute in &span.span.attributes {
            let key = attribute.key.to_ascii_lowercase();
            assert!(
                !key.contains("authorization") && !key.contains("cookie"),
                "{key} on {}",
                span.span.name
            );
        }
    }
    for datagram in daemon.datagrams() {
        let text = String::from_utf8_lossy(&datagram);
        assert!(!text.contains(SECRET), "an X-Ray document holds the secret");
        let lowercase = text.to_ascii_lowercase();
        assert!(
            !lowercase.contains("authorization") && !lowercase.contains("cookie"),
            "{text}"
        );
    }
    assert_eq!(segments(&documents).len(), 2);
}

#[tokio::test]
async fn an_upstream_sampled_1_puts_at_most_its_limit_a_second_into_xray() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_NONE),
        ("CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND", "2"),
        QUICK_EXPORT,
    ])
    .await;
    let client = reqwest::Client::new();
    let first_second = now_seconds();
    let mut sampled = Vec::new();
    for index in 0..30 {
        let root = format!("1-{first_second:08x}-{index:024x}");
        let response = client
            .get(format!("{}/api/activities/home", backend.address))
            .header(
                "x-amzn-trace-id",
                format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"),
            )
            .send()
            .await
            .unwrap();
        let header = response.headers()["x-amzn-trace-id"].to_str().unwrap();
        assert!(header.starts_with(&format!("Root={root};")), "{header}");
        sampled.push(header.ends_with(";Sampled=1"));
    }
    let seconds = now_seconds() - first_second + 1;

    assert_eq!(sampled[..2], [true, true], "the first two are honoured");
    let honoured = sampled.iter().filter(|sampled| **sampled).count();
    assert!(
        honoured as u64 <= 2 * seconds,
        "{honoured} honoured in {seconds} s"
    );
    assert!(
        honoured < 30,
        "past the limit the rules (sample none) decide"
    );
    daemon
        .wait_for(|documents| segments(documents).len() >= honoured)
        .await;
    // One more export cycle, so that a wrongly sampled trace would have arrived too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        segments(&daemon.documents()).len(),
        honoured,
        "only the honoured traces reach X-Ray"
    );
}

#[tokio::test]
async fn segment_names_taken_from_the_host_keep_only_what_xray_allows() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("AWS_XRAY_URL", "*.cruddur.test*"),
        QUICK_EXPORT,
    ])
    .await;
    let long_host = format!("{}.cruddur.test", "x".repeat(300));
    let client = reqwest::Client::new();
    for host in ["a(b)!.cruddur.test:4567", long_host.as_str()] {
        let response = client
            .get(format!("{}/api/message_groups", backend.address))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    let documents = daemon
        .wait_for(|documents| segments(documents).len() == 2)
        .await;
    let mut names: Vec<&str> = segments(&documents)
        .iter()
        .map(|segment| segment["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a_b__.cruddur.test:4567", &"x".repeat(200)]);
}

#[tokio::test]
async fn a_segment_too_large_for_a_datagram_arrives_without_its_request_details_and_metadata() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100000"),
        QUICK_EXPORT,
    ])
    .await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/activities/home?q={}",
            backend.address,
            "q".repeat(40_000)
        ))
        .header("user-agent", "u".repeat(30_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let documents = daemon
        .wait_for(|documents| !segments(documents).is_empty())
        .await;
    for datagram in daemon.datagrams() {
        assert!(datagram.len() <= MAX_DATAGRAM_BYTES, "{}", datagram.len());
    }
    let segment = segments(&documents)[0];
    assert_eq!(segment["http"]["request"], json!({"method": "GET"}));
    assert_eq!(segment["http"]["response"]["status"], 200);
    let omitted = &segment["metadata"]["otel"];
    assert_eq!(
        omitted["http_request_omitted"],
        "over the 64 KB datagram limit"
    );
    assert_eq!(omitted["metadata_omitted"], "over the 64 KB datagram limit");
    assert_eq!(omitted.get("url.query"), None);
    assert!(
        backend
            .stderr()
            .contains("X-Ray documents over the 64 KB datagram limit even alone"),
        "{}",
        backend.stderr()
    );
}
