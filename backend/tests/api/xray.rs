use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    BackendProcess, FakeXrayDaemon, OtlpReceiver, QUICK_EXPORT, SAMPLE_ALL, SAMPLE_NONE,
    closed_port, hex, now_seconds, segments, slowest_of, spawn_backend,
};

async fn backend_with_daemon(daemon: &FakeXrayDaemon, extra: &[(&str, &str)]) -> BackendProcess {
    let mut envs = vec![
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        QUICK_EXPORT,
    ];
    envs.extend_from_slice(extra);
    spawn_backend(&envs).await
}

/// A segment's subsegments, nested in it or, when its spans were exported in another batch,
/// sent as documents of their own.
fn subsegments_of<'a>(documents: &'a [Value], segment: &'a Value) -> Vec<&'a Value> {
    let nested = segment["subsegments"].as_array().into_iter().flatten();
    let standalone = documents.iter().filter(|document| {
        document["type"] == "subsegment" && document["parent_id"] == segment["id"]
    });
    nested.chain(standalone).collect()
}

/// Every document received once the first segment and at least one of its subsegments are in.
async fn first_request_with_its_subsegments(daemon: &FakeXrayDaemon) -> Vec<Value> {
    daemon
        .wait_for(|documents| {
            segments(documents)
                .first()
                .is_some_and(|segment| !subsegments_of(documents, segment).is_empty())
        })
        .await
}

fn xray_header(response: &reqwest::Response) -> String {
    response.headers()["x-amzn-trace-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_sampled_request_becomes_a_segment_with_the_same_ids_as_its_otel_span() {
    let daemon = FakeXrayDaemon::start().await;
    let receiver = OtlpReceiver::start().await;
    let backend = backend_with_daemon(
        &daemon,
        &[
            ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ],
    )
    .await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/activities/home", backend.address))
        .header("user-agent", "cruddur-tests/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = xray_header(&response);

    let documents = first_request_with_its_subsegments(&daemon).await;
    let segment = segments(&documents)[0];
    assert_eq!(segment["name"], "cruddur-backend");
    let trace_id = segment["trace_id"].as_str().unwrap();
    assert_eq!(header, format!("Root={trace_id};Sampled=1"));
    let parts: Vec<&str> = trace_id.split('-').collect();
    assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("1", 8, 24));
    let started = u64::from_str_radix(parts[1], 16).unwrap();
    assert!(
        now_seconds().abs_diff(started) < 60,
        "the id starts with Unix seconds"
    );
    for field in ["start_time", "end_time"] {
        assert!(segment[field].as_f64().unwrap() > 1.7e9, "{field}");
    }
    assert!(segment["end_time"].as_f64() >= segment["start_time"].as_f64());
    assert_eq!(
        segment.get("parent_id"),
        None,
        "the backend started this trace"
    );

    let http = &segment["http"];
    assert_eq!(http["request"]["method"], "GET");
    assert_eq!(
        http["request"]["url"],
        format!("http://127.0.0.1:{}/api/activities/home", backend.port)
    );
    assert_eq!(http["request"]["user_agent"], "cruddur-tests/1.0");
    assert_eq!(http["request"]["client_ip"], "127.0.0.1");
    assert_eq!(http["response"]["status"], 200);
    assert!(http["response"]["content_length"].as_i64().unwrap() > 100);
    assert_eq!(segment["aws"]["xray"]["sdk"], "opentelemetry for rust");
    assert_eq!(segment["service"]["runtime"], "rust");
    for flag in ["error", "fault", "throttle"] {
        assert_eq!(segment.get(flag), None, "{flag}");
    }

    let custom = subsegments_of(&documents, segment)[0];
    assert_eq!(custom["name"], "home-activities-mock-data");
    assert_eq!(custom["annotations"]["app_result_length"], 4);
    assert!(custom["annotations"]["app_now"].is_string());

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
    assert_eq!(segment["id"], hex(&server.span.span_id));
    assert_eq!(trace_id.replace('-', "")[1..], hex(&server.span.trace_id));
}

#[tokio::test]
async fn client_errors_are_marked_as_errors() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = backend_with_daemon(&daemon, &[("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL)]).await;
    let response = reqwest::get(format!("{}/api/activities/@nobody", backend.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let documents = first_request_with_its_subsegments(&daemon).await;
    let segment = segments(&documents)[0];
    assert_eq!(segment["error"], true);
    assert_eq!(segment.get("fault"), None);
    assert_eq!(segment["http"]["response"]["status"], 404);
    assert_eq!(
        subsegments_of(&documents, segment)[0]["annotations"]["app_user_handle"],
        "nobody"
    );
}

#[tokio::test]
async fn segments_are_named_after_hosts_matching_aws_xray_url() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = backend_with_daemon(
        &daemon,
        &[
            ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
            ("AWS_XRAY_URL", "*.CRUDDUR.test*"),
            ("AWS_XRAY_TRACING_NAME", "Cruddur"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    for host in ["api.cruddur.test:4567", "localhost:4567"] {
        let response = client
            .get(format!("{}/api/message_groups", backend.address))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let documents = daemon
        .wait_for(|documents| segments(documents).len() == 2)
        .await;
    let mut names: Vec<&str> = segments(&documents)
        .iter()
        .map(|segment| segment["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Cruddur", "api.cruddur.test:4567"]);
}

#[tokio::test]
async fn an_incoming_xray_trace_header_is_continued_and_its_decision_honoured() {
    let daemon = FakeXrayDaemon::start().await;
    let backend = backend_with_daemon(&daemon, &[("AWS_XRAY_SAMPLING_RULES", SAMPLE_NONE)]).await;
    let root = format!("1-{:08x}-e3f5fe9a2bcd4e6f8a4b2c1d", now_seconds());
    let client = reqwest::Client::new();
    let sampled = client
        .get(format!("{}/api/activities/notifications", backend.address))
        .header(
            "x-amzn-trace-id",
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(xray_header(&sampled), format!("Root={root};Sampled=1"));
    let traceresponse = sampled.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        traceresponse.contains(&root[2..].replace('-', "")),
        "{traceresponse}"
    );

    let unsampled_root = format!("1-{:08x}-0123456789abcdef01234567", now_seconds());
    let unsampled = client
        .get(format!("{}/api/activities/notifications", backend.address))
        .header(
            "x-amzn-trace-id",
            format!("Root={unsampled_root};Parent=53995c3f42cd8ad8;Sampled=0"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        xray_header(&unsampled),
        format!("Root={unsampled_root};Sampled=0")
    );

    let documents = daemon
        .wait_for(|documents| !segments(documents).is_empty())
        .await;
    // One more export cycle, so that a wrongly sampled second trace would have arrived too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let documents = [documents, daemon.documents()].concat();
    let segment = segments(&documents)[0];
    assert_eq!(segment["trace_id"], root);
    assert_eq!(segment["parent_id"], "53995c3f42cd8ad8");
    assert!(
        documents
            .iter()
            .all(|document| document["trace_id"] != unsampled_root.as_str()),
        "Sampled=0 sends nothing"
    );
}

#[tokio::test]
async fn a_rule_of_zero_samples_nothing_and_every_response_says_so() {
    let daemon = FakeXrayDaemon::start().await;
    let mut backend =
        backend_with_daemon(&daemon, &[("AWS_XRAY_SAMPLING_RULES", SAMPLE_NONE)]).await;
    for _ in 0..20 {
        let response = reqwest::get(format!("{}/api/activities/home", backend.address))
            .await
            .unwrap();
        assert!(xray_header(&response).ends_with(";Sampled=0"));
    }
    backend.terminate();
    assert!(backend.wait(Duration::from_secs(30)).await.success());
    assert!(daemon.datagrams().is_empty());
}

#[tokio::test]
async fn requests_are_unaffected_when_the_daemon_is_unreachable() {
    let closed = format!("127.0.0.1:{}", closed_port().await);
    let backend = spawn_backend(&[
        ("AWS_XRAY_DAEMON_ADDRESS", closed.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        QUICK_EXPORT,
    ])
    .await;
    let slowest = slowest_of(100, &format!("{}/api/activities/home", backend.address)).await;
    assert!(slowest < Duration::from_secs(2), "slowest {slowest:?}");
}

#[tokio::test]
async fn with_xray_disabled_there_is_no_header_and_no_datagram() {
    let daemon = FakeXrayDaemon::start().await;
    let mut backend = backend_with_daemon(
        &daemon,
        &[
            ("AWS_XRAY_SDK_ENABLED", "false"),
            ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ],
    )
    .await;
    let response = reqwest::get(format!("{}/api/activities/home", backend.address))
        .await
        .unwrap();
    assert!(!response.headers().contains_key("x-amzn-trace-id"));
    assert!(response.headers().contains_key("traceresponse"));
    backend.terminate();
    assert!(backend.wait(Duration::from_secs(30)).await.success());
    assert!(daemon.datagrams().is_empty());
}
