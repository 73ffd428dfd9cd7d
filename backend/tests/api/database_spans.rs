//! Every query is a CLIENT span under the request's: in the OTLP export, as a `remote` X-Ray
//! subsegment with its `sql` block, and in the local trace view.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};
use shared::traces::TraceDetail;

use crate::databases::{TestDatabase, on_both_databases};
use crate::helpers::{
    BackendProcess, FakeXrayDaemon, OtlpReceiver, ReceivedSpan, hex, int_attribute, now_seconds,
    spawn_traced_backend, string_attribute,
};

on_both_databases!(every_query_is_a_client_span_with_its_statement_and_never_its_values,);

const SECRET_TEXT: &str = "the replicator recipe is secret";
const PASSWORD: &str = "s3cret-pw";

/// Every subsegment in the documents, however deep.
fn all_subsegments(documents: &[Value]) -> Vec<&Value> {
    fn collect<'a>(document: &'a Value, found: &mut Vec<&'a Value>) {
        for subsegment in document["subsegments"].as_array().into_iter().flatten() {
            found.push(subsegment);
            collect(subsegment, found);
        }
    }
    let mut found = Vec::new();
    for document in documents {
        if document["type"] == "subsegment" {
            found.push(document);
        }
        collect(document, &mut found);
    }
    found
}

/// The binary on the database `variable` names, sending every trace to an OTLP receiver, an
/// X-Ray daemon and the local trace view.
async fn traced_backend(
    variable: &str,
    value: &str,
) -> (OtlpReceiver, FakeXrayDaemon, BackendProcess) {
    spawn_traced_backend(&[("CRUDDUR_LOCAL_TRACES", "on"), (variable, value)]).await
}

/// Sends `request` from a sampled span of `trace_id`, and expects it to succeed.
async fn send_in_trace(request: reqwest::RequestBuilder, trace_id: &str) {
    let response = request
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|received| received.span.name == name)
}

async fn every_query_is_a_client_span_with_its_statement_and_never_its_values(
    database: TestDatabase,
) {
    let (variable, mut value) = database.env();
    let postgres = matches!(database, TestDatabase::Postgres { .. });
    if postgres {
        // The test cluster trusts every connection, so any password is accepted.
        value = value.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    }
    let (receiver, daemon, backend) = traced_backend(variable, &value).await;
    // X-Ray takes trace ids that start with a recent time only.
    let trace_id = format!("{:08x}b0d1f8f4bd33716a5bd66ef5", now_seconds());
    let client = reqwest::Client::new();
    let request = client
        .post(format!("{}/api/activities", backend.address))
        .json(&json!({"message": SECRET_TEXT, "ttl": "1-day"}));
    send_in_trace(request, &trace_id).await;

    let spans = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        receiver.wait_for(|spans| {
            named(spans, "INSERT activities").is_some()
                && named(spans, "POST /api/activities").is_some()
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no INSERT span; the log:\n{}", backend.stderr()));
    let server = named(&spans, "POST /api/activities").expect("the request's span");
    let insert = named(&spans, "INSERT activities").unwrap();
    assert_eq!(insert.span.kind, SpanKind::Client as i32);
    assert_eq!(hex(&insert.span.trace_id), trace_id);
    // Under the request: its parent chain reaches the server span.
    let mut parent = insert.span.parent_span_id.clone();
    while parent != server.span.span_id {
        let next = spans
            .iter()
            .find(|received| received.span.span_id == parent)
            .expect("every parent of the query's span is exported");
        parent = next.span.parent_span_id.clone();
    }
    if postgres {
        // The write budget, kept in the database across instances, is one query more.
        let budget = named(&spans, "INSERT write_budgets").expect("the write budget's span");
        assert_eq!(budget.span.kind, SpanKind::Client as i32);
        assert_eq!(hex(&budget.span.trace_id), trace_id);
    }
    let attributes = &insert.span.attributes;
    let system = if postgres { "postgresql" } else { "sqlite" };
    assert_eq!(string_attribute(attributes, "db.system.name"), Some(system));
    assert_eq!(
        string_attribute(attributes, "db.operation.name"),
        Some("INSERT")
    );
    assert_eq!(
        string_attribute(attributes, "db.collection.name"),
        Some("activities")
    );
    let namespace = string_attribute(attributes, "db.namespace").unwrap();
    let statement = string_attribute(attributes, "db.query.text").unwrap();
    assert!(
        statement.starts_with("INSERT INTO activities"),
        "{statement}"
    );
    assert!(statement.contains("$3"), "parameterized: {statement}");
    if postgres {
        assert!(value.ends_with(&format!("/{namespace}")), "{namespace}");
        assert_eq!(
            string_attribute(attributes, "server.address"),
            Some("127.0.0.1")
        );
        let port = value.rsplit_once(':').unwrap().1.split('/').next().unwrap();
        assert_eq!(
            int_attribute(attributes, "server.port"),
            Some(port.parse().unwrap())
        );
    } else {
        assert_eq!(namespace, "cruddur.db");
        assert_eq!(string_attribute(attributes, "server.address"), None);
    }
    let lookup = named(&spans, "SELECT users").expect("the author's lookup is a span too");
    assert_eq!(hex(&lookup.span.trace_id), trace_id);

    let documents = daemon
        .wait_for(|documents| {
            all_subsegments(documents)
                .iter()
                .any(|subsegment| subsegment["name"] == "INSERT activities")
        })
        .await;
    let subsegments = all_subsegments(&documents);
    let subsegment = subsegments
        .iter()
        .find(|subsegment| subsegment["name"] == "INSERT activities")
        .unwrap();
    assert_eq!(subsegment["namespace"], "remote");
    let sql = &subsegment["sql"];
    assert_eq!(sql["database_type"], system);
    assert_eq!(sql["sanitized_query"], statement);
    assert!(
        !sql["database_version"].as_str().unwrap().is_empty(),
        "{sql}"
    );
    let url = sql["url"].as_str().unwrap();
    let scheme = if postgres { "postgres://" } else { "sqlite://" };
    assert!(url.starts_with(scheme), "{url}");

    // The store gets its spans in batches, like the exporters.
    let mut waited = 0;
    let viewed = loop {
        let response = client
            .get(format!("{}/api/traces/{trace_id}", backend.address))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let detail: TraceDetail = response.json().await.unwrap();
            if let Some(span) = detail
                .spans
                .into_iter()
                .find(|span| span.name == "INSERT activities")
            {
                break span;
            }
        }
        waited += 1;
        assert!(
            waited < 100,
            "the query never showed in the local trace view"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(viewed.parent_span_id.is_some(), "under the request's span");
    assert!(
        viewed
            .attributes
            .iter()
            .any(|attribute| attribute.key == "db.query.text" && attribute.value == statement)
    );

    // Neither the posted text nor the password went anywhere.
    let exported = format!("{:?}", receiver.spans());
    let segments = format!("{:?}", daemon.documents());
    for (place, text) in [
        ("OTLP", &exported),
        ("X-Ray", &segments),
        ("the log", &backend.stderr()),
    ] {
        assert!(!text.contains(PASSWORD), "the password in {place}");
    }
    assert!(!format!("{:?}", insert.span).contains(SECRET_TEXT));
    assert!(!format!("{sql}").contains(SECRET_TEXT));
}

#[tokio::test]
async fn a_password_in_the_database_urls_query_reaches_no_span_no_segment_and_no_log() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let (variable, url) = database.env();
    // sqlx reads the password from the query as well as from the user part; the test cluster
    // trusts every connection, so any password is accepted.
    let query_password = "s3cret-in-the-query";
    let secret_url = format!("{url}?password={query_password}#{query_password}");
    let (receiver, daemon, backend) = traced_backend(variable, &secret_url).await;
    let trace_id = format!("{:08x}c0d1f8f4bd33716a5bd66ef5", now_seconds());
    let client = reqwest::Client::new();
    let request = client.get(format!("{}/api/activities/home", backend.address));
    send_in_trace(request, &trace_id).await;

    let spans = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        receiver.wait_for(|spans| named(spans, "SELECT activities").is_some()),
    )
    .await
    .unwrap_or_else(|_| panic!("no SELECT span; the log:\n{}", backend.stderr()));
    let select = named(&spans, "SELECT activities").unwrap();
    assert_eq!(
        string_attribute(&select.span.attributes, "cruddur.db.url"),
        Some(url.replacen("postgres@", "", 1).as_str()),
        "scheme, host, port and path only"
    );
    let documents = daemon
        .wait_for(|documents| {
            all_subsegments(documents)
                .iter()
                .any(|subsegment| subsegment["name"] == "SELECT activities")
        })
        .await;
    let mut viewed = String::new();
    for _ in 0..100 {
        viewed = client
            .get(format!("{}/api/traces/{trace_id}", backend.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if viewed.contains("cruddur.db.url") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        viewed.contains("cruddur.db.url"),
        "the trace view: {viewed}"
    );
    for (place, text) in [
        ("OTLP", &format!("{:?}", receiver.spans())),
        ("X-Ray", &format!("{documents:?}")),
        ("the trace view", &viewed),
        ("the log", &backend.stderr()),
    ] {
        assert!(!text.contains(query_password), "the password in {place}");
    }
}
