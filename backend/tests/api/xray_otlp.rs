//! X-Ray without the daemon (`CRUDDUR_XRAY_EXPORTER=otlp`): spans of sampled traces as OTLP to
//! X-Ray's endpoint, signed with SigV4 or carrying an API key, the sampling rules from X-Ray's
//! API. Every AWS address is a loopback fake; instance metadata is off and the AWS files are
//! the test's own, so nothing leaves this machine.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;

use crate::helpers::{
    AwsFiles, BackendProcess, CONTAINER_SECRET, CONTAINER_TOKEN, FakeAws, FakeXrayDaemon,
    OtlpReceiver, QUICK_EXPORT, ReceivedExport, ReceivedSpan, SAMPLE_ALL, SAMPLE_NONE,
    container_key_id, hex, now_seconds, segments, spawn_backend, string_attribute,
};
use crate::sigv4;

const REGION: &str = "us-west-2";
const KEY_ID: &str = "AKIASTATICEXAMPLE";
const SECRET: &str = "st4tic/s3cr3t+EXAMPLEKEY";
const TOKEN: &str = "st4tic-sessi0n-t0ken";
const STATIC_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", SECRET),
    ("AWS_SESSION_TOKEN", TOKEN),
];

/// The backend with X-Ray in otlp mode, every AWS endpoint on `aws`, and the credential chain
/// held to `files` and the variables in `extra`.
async fn backend_to(aws: &FakeAws, files: &AwsFiles, extra: &[(&str, &str)]) -> BackendProcess {
    let mut envs: Vec<(&str, String)> = files.env();
    envs.extend([
        ("CRUDDUR_XRAY_EXPORTER", "otlp".to_owned()),
        ("CRUDDUR_XRAY_OTLP_ENDPOINT", aws.traces_endpoint()),
        ("CRUDDUR_XRAY_API_ENDPOINT", aws.address.clone()),
        ("AWS_REGION", REGION.to_owned()),
        (QUICK_EXPORT.0, QUICK_EXPORT.1.to_owned()),
    ]);
    envs.extend(
        extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    let envs: Vec<(&str, &str)> = envs
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    spawn_backend(&envs).await
}

/// `backend_to` with the credential chain finding container credentials on `aws`, every trace
/// sampled, and the variables in `extra`.
async fn backend_with_container_credentials(
    aws: &FakeAws,
    files: &AwsFiles,
    extra: &[(&str, &str)],
) -> BackendProcess {
    let credentials_uri = aws.credentials_uri();
    let mut envs = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            credentials_uri.as_str(),
        ),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
    ];
    envs.extend_from_slice(extra);
    backend_to(aws, files, &envs).await
}

async fn get(backend: &BackendProcess, path: &str, xray_header: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", backend.address));
    if let Some(value) = xray_header {
        request = request.header("x-amzn-trace-id", value);
    }
    let response = request.send().await.expect("the backend answers");
    assert_eq!(response.status(), 200, "GET {path}");
    response
}

/// The W3C form of the trace id in the response's `X-Amzn-Trace-Id`, and its `Sampled`.
fn xray_trace(response: &reqwest::Response) -> (String, bool) {
    let header = response.headers()["x-amzn-trace-id"].to_str().unwrap();
    let root = header
        .split(';')
        .find_map(|field| field.strip_prefix("Root=1-"))
        .expect("a Root");
    (root.replace('-', ""), header.ends_with("Sampled=1"))
}

fn has_server_span_of(trace_id: &str) -> impl Fn(&[ReceivedSpan]) -> bool + '_ {
    move |spans| {
        spans.iter().any(|span| {
            span.span.kind == SpanKind::Server as i32 && hex(&span.span.trace_id) == trace_id
        })
    }
}

/// Asserts the request's SigV4 signature verifies with `secret` over the body as sent
/// (compressed, when it was), and names the key, the region and X-Ray.
fn assert_signed(export: &ReceivedExport, key_id: &str, secret: &str, token: &str) {
    let scope = sigv4::verify("POST", &export.path, &export.headers, &export.wire, secret)
        .unwrap_or_else(|error| panic!("{} is not signed: {error}", export.path));
    assert_eq!(scope.access_key_id, key_id);
    assert_eq!(scope.region, REGION);
    assert_eq!(scope.service, "xray");
    let content_encoding = export
        .headers
        .contains_key("content-encoding")
        .then_some("content-encoding");
    for header in ["host", "x-amz-date", "x-amz-security-token", "content-type"]
        .into_iter()
        .chain(content_encoding)
    {
        assert!(
            scope.signed_headers.iter().any(|signed| signed == header),
            "{header} is signed: {:?}",
            scope.signed_headers
        );
    }
    assert_eq!(export.headers["x-amz-security-token"], token);
}

/// Asserts no secret, and no signature, is in the log.
fn assert_logged_no_secret(backend: &BackendProcess, exports: &[ReceivedExport], secrets: &[&str]) {
    let log = backend.stderr();
    let signatures = exports.iter().filter_map(|export| {
        let authorization = export.headers.get("authorization")?.to_str().ok()?;
        Some(authorization.rsplit_once("Signature=")?.1.to_owned())
    });
    for secret in secrets
        .iter()
        .map(|secret| (*secret).to_owned())
        .chain(signatures)
    {
        assert!(!log.contains(&secret), "the log shows {secret:?}:\n{log}");
    }
}

#[tokio::test]
async fn sampled_spans_reach_xrays_otlp_endpoint_signed_with_sigv4_for_the_region() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let mut extra = STATIC_CREDENTIALS.to_vec();
    // Everything logged, down to the signing library's own traces.
    extra.extend([
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("RUST_LOG", "trace"),
    ]);
    let backend = backend_to(&aws, &files, &extra).await;

    let response = get(&backend, "/api/activities/home", None).await;
    let (trace_id, sampled) = xray_trace(&response);
    assert!(sampled);
    let spans = aws.wait_for_spans(has_server_span_of(&trace_id)).await;
    for span in &spans {
        assert_eq!(hex(&span.span.trace_id), trace_id, "one trace");
        assert_eq!(
            string_attribute(&span.resource, "service.name"),
            Some("cruddur-backend")
        );
    }
    let exports = aws.requests_to("/v1/traces");
    for export in &exports {
        assert_eq!(export.headers["content-type"], "application/x-protobuf");
        assert_eq!(export.headers["content-encoding"], "gzip");
        assert_ne!(
            export.wire, export.body,
            "the signed body is the compressed one"
        );
        assert_signed(export, KEY_ID, SECRET, TOKEN);
    }
    backend
        .log_containing("X-Ray without a daemon: the spans of sampled traces go over OTLP")
        .await;
    assert_logged_no_secret(&backend, &exports, &[SECRET, TOKEN]);
}

#[tokio::test]
async fn container_credentials_from_the_chain_sign_the_exports() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let backend = backend_with_container_credentials(&aws, &files, &[]).await;

    let response = get(&backend, "/api/activities/home", None).await;
    let (trace_id, _) = xray_trace(&response);
    aws.wait_for_spans(has_server_span_of(&trace_id)).await;
    let exports = aws.requests_to("/v1/traces");
    for export in &exports {
        assert_signed(
            export,
            &container_key_id(1),
            CONTAINER_SECRET,
            CONTAINER_TOKEN,
        );
    }
    assert_eq!(
        aws.requests_to("/credentials").len(),
        1,
        "fetched once, refreshed only before they expire"
    );
    assert_logged_no_secret(&backend, &exports, &[CONTAINER_SECRET, CONTAINER_TOKEN]);
}

#[tokio::test]
async fn credentials_are_fetched_again_before_they_expire_and_sign_from_then_on() {
    let aws = FakeAws::start().await;
    // Five minutes and a second: due again in the shortest wait, ten seconds.
    aws.serve_credentials_for(301);
    let files = AwsFiles::new();
    let backend = backend_with_container_credentials(&aws, &files, &[]).await;

    aws.wait_for("/credentials", |fetches| fetches.len() >= 2)
        .await;
    let response = get(&backend, "/api/activities/home", None).await;
    let (trace_id, _) = xray_trace(&response);
    aws.wait_for_spans(has_server_span_of(&trace_id)).await;
    let last = aws.requests_to("/v1/traces").pop().unwrap();
    assert_signed(
        &last,
        &container_key_id(2),
        CONTAINER_SECRET,
        CONTAINER_TOKEN,
    );
}

#[tokio::test]
async fn an_api_key_goes_as_a_bearer_token_and_sampling_follows_the_local_rules() {
    const KEY: &str = "xray-api-k3y-EXAMPLE";
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let backend =
        backend_with_container_credentials(&aws, &files, &[("CRUDDUR_XRAY_API_KEY", KEY)]).await;

    let response = get(&backend, "/api/activities/home", None).await;
    let (trace_id, _) = xray_trace(&response);
    aws.wait_for_spans(has_server_span_of(&trace_id)).await;
    for export in aws.requests_to("/v1/traces") {
        assert_eq!(export.headers["authorization"], format!("Bearer {KEY}"));
        assert!(!export.headers.contains_key("x-amz-date"), "not signed");
    }
    let log = backend
        .log_containing("X-Ray sampling follows the local rules only")
        .await;
    assert_eq!(
        log.matches("X-Ray sampling follows the local rules only")
            .count(),
        1,
        "said once"
    );
    assert!(!log.contains(KEY), "the key is never logged:\n{log}");
    assert!(aws.requests_to("/GetSamplingRules").is_empty());
    assert!(
        aws.requests_to("/credentials").is_empty(),
        "an API key needs no credential chain"
    );
}

#[tokio::test]
async fn only_the_traces_xray_samples_reach_its_endpoint() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let receiver = OtlpReceiver::start().await;
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.extend([
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_NONE),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
    ]);
    let backend = backend_to(&aws, &files, &extra).await;

    let unsampled = get(&backend, "/api/activities/home", None).await;
    let (unsampled, decision) = xray_trace(&unsampled);
    assert!(!decision);
    let forced = format!(
        "Root=1-{:08x}-{}",
        now_seconds(),
        "a1b2c3d4e5f6a7b8c9d0e1f2"
    );
    let sampled = get(
        &backend,
        "/api/activities/home",
        Some(&format!("{forced};Sampled=1")),
    )
    .await;
    let (sampled, decision) = xray_trace(&sampled);
    assert!(decision);

    receiver
        .wait_for(|spans| {
            has_server_span_of(&unsampled)(spans) && has_server_span_of(&sampled)(spans)
        })
        .await;
    aws.wait_for_spans(has_server_span_of(&sampled)).await;
    // The OTLP endpoint had both, in batches exported together: X-Ray's would have come by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let traces: HashSet<String> = aws
        .spans()
        .iter()
        .map(|span| hex(&span.span.trace_id))
        .collect();
    assert_eq!(traces, HashSet::from([sampled]));
}

#[tokio::test]
async fn a_refusing_endpoint_costs_counted_spans_and_one_log_line_not_a_retry_storm() {
    let aws = FakeAws::start().await;
    aws.answer_traces_with(403);
    let files = AwsFiles::new();
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.push(("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL));
    let backend = backend_to(&aws, &files, &extra).await;

    for _ in 0..5 {
        get(&backend, "/api/activities/home", None).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = backend
        .log_containing("spans for X-Ray not delivered")
        .await;
    assert!(log.contains("403"), "{log}");
    assert!(
        log.contains("Transaction Search"),
        "says what to check: {log}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exports = aws.requests_to("/v1/traces");
    let mut span_ids = HashSet::new();
    for span in aws.spans() {
        assert!(
            span_ids.insert(span.span.span_id.clone()),
            "a refused span is never sent again"
        );
    }
    assert!(
        exports.len() <= 10,
        "one request per batch: {}",
        exports.len()
    );
    let log = backend.stderr();
    assert_eq!(
        log.matches("spans for X-Ray not delivered").count(),
        1,
        "at most once per interval:\n{log}"
    );
}

#[tokio::test]
async fn missing_credentials_are_said_once_at_startup_and_the_app_keeps_serving() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let backend = backend_to(&aws, &files, &[("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL)]).await;

    backend.log_containing("no AWS credentials for X-Ray").await;
    for _ in 0..3 {
        get(&backend, "/api/activities/home", None).await;
    }
    assert_eq!(backend.health().await["status"], "ok");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(aws.requests_to("/v1/traces").is_empty(), "nothing unsigned");
    assert!(aws.requests_to("/GetSamplingRules").is_empty());
    assert_eq!(
        backend
            .stderr()
            .matches("no AWS credentials for X-Ray")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_daemon_mode_asks_for_no_credentials() {
    let aws = FakeAws::start().await;
    let daemon = FakeXrayDaemon::start().await;
    let files = AwsFiles::new();
    let credentials_uri = aws.credentials_uri();
    let mut envs: Vec<(&str, String)> = files.env();
    envs.extend([
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", credentials_uri),
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.clone()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        (QUICK_EXPORT.0, QUICK_EXPORT.1.to_owned()),
    ]);
    let envs: Vec<(&str, &str)> = envs
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let backend = spawn_backend(&envs).await;

    get(&backend, "/api/activities/home", None).await;
    daemon
        .wait_for(|documents| !segments(documents).is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(aws.requests_to("/credentials").is_empty());
    assert!(aws.requests_to("/v1/traces").is_empty());
}

#[tokio::test]
async fn sampling_rules_come_signed_from_xrays_api_and_decide() {
    let aws = FakeAws::start().await;
    aws.serve_sampling_rules(json!([{ "SamplingRule": {
        "RuleName": "Everything", "Priority": 1, "FixedRate": 1.0, "ReservoirSize": 0,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
        "URLPath": "*", "ResourceARN": "*", "Version": 1
    }}]));
    let files = AwsFiles::new();
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.push(("AWS_XRAY_SAMPLING_RULES", SAMPLE_NONE));
    let backend = backend_to(&aws, &files, &extra).await;

    let requests = aws
        .wait_for("/GetSamplingRules", |requests| !requests.is_empty())
        .await;
    assert_signed(&requests[0], KEY_ID, SECRET, TOKEN);
    // The local rules keep nothing: a sampled trace is the centralized rule's doing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let trace_id = loop {
        let response = get(&backend, "/api/activities/home", None).await;
        let (trace_id, sampled) = xray_trace(&response);
        if sampled {
            break trace_id;
        }
        assert!(std::time::Instant::now() < deadline, "never sampled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    aws.wait_for_spans(has_server_span_of(&trace_id)).await;
}

/// Local rules that keep the home feed's traces and nothing else.
const SAMPLE_HOME_ONLY: &str = r#"{"version": 2,
    "rules": [{"description": "home", "host": "*", "http_method": "*",
               "url_path": "/api/activities/home", "fixed_target": 0, "rate": 1.0}],
    "default": {"fixed_target": 0, "rate": 0.0}}"#;

/// A trace id as the browser makes them: the time first, as X-Ray's are.
fn browser_trace_id(tail: u8) -> String {
    format!("{:08x}{}", now_seconds(), format!("{tail:02x}").repeat(12))
}

/// The browser's export (OTLP/JSON) of spans given as (trace id, span id, name).
fn browser_export(spans: &[(&str, &str, &str)]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|(trace_id, span_id, name)| {
            json!({
                "traceId": trace_id, "spanId": span_id, "name": name, "kind": 3,
                "startTimeUnixNano": (now - 50_000_000).to_string(),
                "endTimeUnixNano": now.to_string()
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "cruddur-frontend"}}
        ]},
        "scopeSpans": [{"scope": {"name": "cruddur-frontend"}, "spans": spans}]
    }]})
    .to_string()
}

async fn relay(backend: &BackendProcess, export: String) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", backend.address))
        .header("content-type", "application/json")
        .body(export)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_relayed_browser_span_reaches_xray_in_the_same_trace_as_the_server_span() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let receiver = OtlpReceiver::start().await;
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.extend([
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_HOME_ONLY),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=hc-k3y"),
    ]);
    let backend = backend_to(&aws, &files, &extra).await;
    let (home, feed, page) = (
        browser_trace_id(1),
        browser_trace_id(2),
        browser_trace_id(3),
    );
    let fetch = |trace_id: &str| format!("00-{trace_id}-00f067aa0ba902b7-01");
    for (trace_id, path) in [
        (&home, "/api/activities/home"),
        (&feed, "/api/activities/notifications"),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", backend.address))
            .header("traceparent", fetch(trace_id))
            .send()
            .await
            .unwrap();
        assert_eq!(xray_trace(&response).1, trace_id == &home, "{path}");
    }

    relay(
        &backend,
        browser_export(&[
            (&home, "00f067aa0ba902b7", "HTTP GET"),
            (&feed, "00f067aa0ba902b7", "HTTP GET"),
            // No request: a browser-only trace, one a second from the relay's own budget.
            (&page, "1111111111111111", "documentLoad"),
        ]),
    )
    .await;

    let spans = aws
        .wait_for_spans(|spans| {
            has_server_span_of(&home)(spans)
                && spans.iter().any(|span| span.span.name == "HTTP GET")
        })
        .await;
    let browser = spans
        .iter()
        .find(|span| span.span.name == "HTTP GET")
        .unwrap();
    assert_eq!(hex(&browser.span.trace_id), home);
    assert_eq!(
        string_attribute(&browser.resource, "service.name"),
        Some("cruddur-frontend")
    );
    let server = spans
        .iter()
        .find(|span| span.span.kind == SpanKind::Server as i32)
        .unwrap();
    assert_eq!(
        hex(&server.span.parent_span_id),
        "00f067aa0ba902b7",
        "click → fetch → server"
    );
    let from_the_browser = |span: &ReceivedSpan| {
        string_attribute(&span.resource, "service.name") == Some("cruddur-frontend")
    };
    receiver
        .wait_for(|spans| spans.iter().filter(|span| from_the_browser(span)).count() >= 3)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let traces: HashSet<String> = aws
        .spans()
        .iter()
        .map(|span| hex(&span.span.trace_id))
        .collect();
    assert_eq!(
        traces,
        HashSet::from([home, page]),
        "the sampled trace and the browser-only one, not the trace its request left out"
    );
    for export in aws.requests_to("/v1/traces") {
        assert_signed(&export, KEY_ID, SECRET, TOKEN);
        assert!(
            !export.headers.contains_key("x-honeycomb-team"),
            "X-Ray never gets the OTLP endpoint's headers"
        );
    }
    for export in receiver.exports() {
        assert_eq!(export.headers["x-honeycomb-team"], "hc-k3y");
        for aws_header in ["authorization", "x-amz-date", "x-amz-security-token"] {
            assert!(
                !export.headers.contains_key(aws_header),
                "the OTLP endpoint never gets {aws_header}"
            );
        }
    }
}

/// The sampling rules' reservoir alone: one trace a second, none by rate.
const SAMPLE_RESERVOIR_ONLY: &str =
    r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.0}}"#;

#[tokio::test]
async fn under_a_relayed_flood_of_made_up_traces_the_first_request_of_the_second_is_still_sampled()
{
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.push(("AWS_XRAY_SAMPLING_RULES", SAMPLE_RESERVOIR_ONLY));
    let backend = backend_to(&aws, &files, &extra).await;
    let made_up: Vec<String> = (1..=100).map(browser_trace_id).collect();
    let flood: Vec<(&str, &str, &str)> = made_up
        .iter()
        .map(|trace_id| (trace_id.as_str(), "2222222222222222", "documentLoad"))
        .collect();

    relay(&backend, browser_export(&flood)).await;
    let (request, sampled) = xray_trace(&get(&backend, "/api/activities/home", None).await);
    assert!(
        sampled,
        "the reservoir's trace of the second is the request's"
    );

    aws.wait_for_spans(has_server_span_of(&request)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let browser_only = aws
        .spans()
        .iter()
        .filter(|span| span.span.name == "documentLoad")
        .count();
    assert!(
        (1..=2).contains(&browser_only),
        "one made-up trace a second reaches X-Ray, not {browser_only}"
    );
}

#[tokio::test]
async fn an_otlp_endpoint_of_xrays_own_is_signed_by_the_exporter_and_the_relay() {
    // X-Ray's real address, reached through a loopback proxy: the name alone asks for SigV4.
    const XRAY: &str = "http://xray.us-west-2.amazonaws.com/v1/traces";
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let mut envs: Vec<(&str, String)> = files.env();
    envs.extend([
        ("HTTP_PROXY", aws.address.clone()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", XRAY.to_owned()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
        ("AWS_XRAY_SDK_ENABLED", "false".to_owned()),
        (QUICK_EXPORT.0, QUICK_EXPORT.1.to_owned()),
    ]);
    envs.extend(STATIC_CREDENTIALS.map(|(name, value)| (name, value.to_owned())));
    let envs: Vec<(&str, &str)> = envs
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let backend = spawn_backend(&envs).await;

    let response = get(&backend, "/api/activities/home", None).await;
    let trace_id = response.headers()["traceresponse"].to_str().unwrap()[3..35].to_owned();
    relay(
        &backend,
        browser_export(&[(&browser_trace_id(5), "3333333333333333", "documentLoad")]),
    )
    .await;
    aws.wait_for_spans(|spans| {
        has_server_span_of(&trace_id)(spans)
            && spans.iter().any(|span| span.span.name == "documentLoad")
    })
    .await;
    for export in aws.requests_to("/v1/traces") {
        assert_eq!(export.headers["host"], "xray.us-west-2.amazonaws.com");
        assert_signed(&export, KEY_ID, SECRET, TOKEN);
    }
}

#[tokio::test]
async fn the_same_endpoint_named_twice_gets_each_span_once() {
    let aws = FakeAws::start().await;
    let files = AwsFiles::new();
    let traces = aws.traces_endpoint();
    let mut extra = STATIC_CREDENTIALS.to_vec();
    extra.extend([
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ]);
    let backend = backend_to(&aws, &files, &extra).await;

    let response = get(&backend, "/api/activities/home", None).await;
    let (trace_id, _) = xray_trace(&response);
    relay(
        &backend,
        browser_export(&[(&trace_id, "00f067aa0ba902b7", "HTTP GET")]),
    )
    .await;
    aws.wait_for_spans(|spans| {
        has_server_span_of(&trace_id)(spans)
            && spans.iter().any(|span| span.span.name == "HTTP GET")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen = HashSet::new();
    for span in aws.spans() {
        assert!(seen.insert(span.span.span_id), "a span sent twice");
    }
    for export in aws.requests_to("/v1/traces") {
        assert_signed(&export, KEY_ID, SECRET, TOKEN);
    }
    backend.log_containing("every span goes there once").await;
}
