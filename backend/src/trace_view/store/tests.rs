use super::*;
use opentelemetry::trace::Status as OtelStatus;
use opentelemetry::{KeyValue as OtelKeyValue, Value as OtelValue};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span, Status};
use shared::traces::MAX_ROUTES_LISTED;
use shared::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

struct Made {
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &'static str,
    start_millis: u64,
    millis: u64,
}

fn span(made: Made) -> Span {
    let start = 1_795_000_000_000_000_000 + made.start_millis * 1_000_000;
    Span {
        trace_id: vec![made.trace; 16],
        span_id: vec![made.id; 8],
        parent_span_id: made
            .parent
            .map(|parent| vec![parent; 8])
            .unwrap_or_default(),
        name: made.name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + made.millis * 1_000_000,
        ..Default::default()
    }
}

fn export(service: &str, spans: Vec<Span>) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string("service.name", service), string("session.id", "tab")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fn trace_id(trace: u8) -> String {
    hex(&[trace; 16])
}

/// Span `id` of trace `trace`, a child of `parent`, starting `id` microseconds in.
fn numbered(trace: u8, id: u64, parent: Option<u64>) -> Span {
    let start = 1_795_000_000_000_000_000 + id * 1_000;
    Span {
        trace_id: vec![trace; 16],
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent
            .map(|parent| parent.to_be_bytes().to_vec())
            .unwrap_or_default(),
        name: format!("span {id}"),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        ..Default::default()
    }
}

fn one_span_trace(trace: u8) -> Vec<ResourceSpans> {
    export(
        BACKEND_SERVICE_NAME,
        vec![span(Made {
            trace,
            id: 1,
            parent: None,
            name: "GET /api/activities/home",
            start_millis: u64::from(trace),
            millis: 5,
        })],
    )
}

#[test]
fn browser_and_server_spans_of_one_trace_are_joined() {
    let store = TraceStore::new(StoreLimits::default());
    store.insert(&export(
        FRONTEND_SERVICE_NAME,
        vec![
            span(Made {
                trace: 7,
                id: 1,
                parent: None,
                name: "click",
                start_millis: 0,
                millis: 40,
            }),
            span(Made {
                trace: 7,
                id: 2,
                parent: Some(1),
                name: "POST",
                start_millis: 2,
                millis: 30,
            }),
        ],
    ));
    let mut server = span(Made {
        trace: 7,
        id: 3,
        parent: Some(2),
        name: "POST /api/activities",
        start_millis: 5,
        millis: 20,
    });
    server.kind = SpanKind::Server as i32;
    server.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "boom".into(),
    });
    store.insert(&export(BACKEND_SERVICE_NAME, vec![server]));

    let listed = store.list(&TraceFilter::default());
    assert_eq!(listed.len(), 1);
    let summary = &listed[0];
    assert_eq!(summary.trace_id, trace_id(7));
    assert_eq!(summary.root_name, "click");
    assert_eq!(
        summary.services,
        [FRONTEND_SERVICE_NAME, BACKEND_SERVICE_NAME]
    );
    assert_eq!(summary.span_count, 3);
    assert_eq!(summary.duration_micros, 40_000);
    assert!(summary.error);

    let detail = store.get(&trace_id(7)).unwrap();
    assert_eq!(
        detail.xray_trace_id,
        format!("1-07070707-{}", "07".repeat(12))
    );
    let server = detail
        .spans
        .iter()
        .find(|span| span.kind == "server")
        .unwrap();
    assert_eq!(server.parent_span_id.as_deref(), Some("0202020202020202"));
    assert_eq!(server.status, "error");
    assert_eq!(server.status_message, "boom");
    assert_eq!(detail.resources.len(), 2, "one per export");
    let resource = &detail.resources[server.resource];
    assert_eq!(resource.service, BACKEND_SERVICE_NAME);
    assert_eq!(
        resource.attributes,
        [Attribute {
            key: "session.id".into(),
            value: "tab".into()
        }]
    );
}

#[test]
fn the_oldest_trace_is_evicted_past_the_trace_limit() {
    let store = TraceStore::new(StoreLimits {
        max_traces: 3,
        max_bytes: usize::MAX,
        max_spans_per_trace: usize::MAX,
    });
    for trace in 1..=5 {
        store.insert(&one_span_trace(trace));
    }
    let kept: Vec<String> = store
        .list(&TraceFilter::default())
        .into_iter()
        .map(|summary| summary.trace_id)
        .collect();
    assert_eq!(kept, [trace_id(5), trace_id(4), trace_id(3)]);
    assert!(store.get(&trace_id(1)).is_none());
}

#[test]
fn the_byte_cap_holds_whatever_the_spans_weigh() {
    let store = TraceStore::new(StoreLimits {
        max_traces: usize::MAX,
        max_bytes: 20_000,
        max_spans_per_trace: usize::MAX,
    });
    for trace in 1..=200 {
        store.insert(&one_span_trace(trace));
    }
    let (traces, bytes) = store.usage();
    assert!(bytes <= 20_000, "{bytes} bytes held");
    assert!(traces > 10 && traces < 200, "{traces} traces held");
    assert!(store.get(&trace_id(200)).is_some(), "the newest stays");
}

#[test]
fn the_list_filters_by_service_errors_and_duration() {
    let store = TraceStore::new(StoreLimits::default());
    store.insert(&one_span_trace(1));
    store.insert(&export(
        FRONTEND_SERVICE_NAME,
        vec![span(Made {
            trace: 2,
            id: 1,
            parent: None,
            name: "lcp",
            start_millis: 0,
            millis: 0,
        })],
    ));
    let only = |filter: TraceFilter| -> Vec<String> {
        store
            .list(&filter)
            .into_iter()
            .map(|summary| summary.root_name)
            .collect()
    };
    assert_eq!(
        only(TraceFilter {
            service: Some(FRONTEND_SERVICE_NAME.into()),
            ..Default::default()
        }),
        ["lcp"]
    );
    assert_eq!(
        only(TraceFilter {
            min_duration_ms: Some(5),
            ..Default::default()
        }),
        ["GET /api/activities/home"]
    );
    assert!(
        only(TraceFilter {
            errors: true,
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn spans_past_a_traces_cap_are_dropped_and_counted_on_the_trace() {
    let store = TraceStore::new(StoreLimits {
        max_spans_per_trace: 10,
        ..StoreLimits::default()
    });
    for first in [1, 9, 17] {
        let spans = (first..first + 8).map(|id| numbered(1, id, None)).collect();
        store.insert(&export(FRONTEND_SERVICE_NAME, spans));
    }
    store.insert(&export(FRONTEND_SERVICE_NAME, vec![numbered(2, 1, None)]));
    let listed = store.list(&TraceFilter::default());
    let capped = listed
        .iter()
        .find(|summary| summary.trace_id == trace_id(1))
        .unwrap();
    assert_eq!(capped.span_count, 10);
    assert_eq!(capped.dropped_spans, 14);
    let detail = store.get(&trace_id(1)).unwrap();
    assert_eq!(detail.spans.len(), 10);
    assert_eq!(detail.dropped_spans, 14);
    let other = store.get(&trace_id(2)).unwrap();
    assert_eq!(
        (other.spans.len(), other.dropped_spans),
        (1, 0),
        "other traces still fill"
    );
}

#[test]
fn the_newest_trace_counts_against_the_byte_cap() {
    let store = TraceStore::new(StoreLimits {
        max_traces: usize::MAX,
        max_bytes: 50_000,
        max_spans_per_trace: usize::MAX,
    });
    for first in (0..2_000).step_by(100) {
        let spans = (first..first + 100)
            .map(|id| numbered(1, id, None))
            .collect();
        store.insert(&export(BACKEND_SERVICE_NAME, spans));
        let (traces, bytes) = store.usage();
        assert!(bytes <= 50_000, "{bytes} bytes held");
        assert_eq!(traces, 1);
    }
    let detail = store.get(&trace_id(1)).unwrap();
    let kept = detail.spans.len() as u64;
    assert!(kept > 10, "{kept} spans kept");
    assert_eq!(kept + detail.dropped_spans, 2_000);
}

#[test]
fn a_resource_is_held_once_however_many_spans_share_it() {
    let store = TraceStore::new(StoreLimits::default());
    let big_resource = |spans: Vec<Span>| {
        let mut export = export(FRONTEND_SERVICE_NAME, spans);
        let resource = export[0].resource.as_mut().unwrap();
        resource
            .attributes
            .push(string("user_agent.original", &"x".repeat(10_000)));
        export
    };
    store.insert(&big_resource(
        (0..100).map(|id| numbered(1, id, None)).collect(),
    ));
    store.insert(&big_resource(
        (100..200).map(|id| numbered(1, id, None)).collect(),
    ));
    let (_, bytes) = store.usage();
    assert!(bytes < 2 * 10_000 + 200 * 1_000, "{bytes} bytes held");
    let detail = store.get(&trace_id(1)).unwrap();
    assert_eq!(detail.resources.len(), 1);
    assert!(detail.spans.iter().all(|span| span.resource == 0));
    store.insert(&export(FRONTEND_SERVICE_NAME, vec![numbered(1, 200, None)]));
    let detail = store.get(&trace_id(1)).unwrap();
    assert_eq!(detail.resources.len(), 2, "another resource");
    assert_eq!(detail.spans[200].resource, 1);
}

#[test]
fn a_child_that_arrives_before_its_parent_stops_being_the_root() {
    let store = TraceStore::new(StoreLimits::default());
    store.insert(&export(BACKEND_SERVICE_NAME, vec![numbered(1, 5, Some(2))]));
    let root = |store: &TraceStore| store.list(&TraceFilter::default())[0].root_name.clone();
    assert_eq!(root(&store), "span 5");
    store.insert(&export(FRONTEND_SERVICE_NAME, vec![numbered(1, 2, None)]));
    assert_eq!(root(&store), "span 2");
    // Hostile shapes answer without looping: a duplicate id, a self-parent, a 2-cycle.
    store.insert(&export(
        FRONTEND_SERVICE_NAME,
        vec![
            numbered(1, 2, Some(7)),
            numbered(1, 3, Some(3)),
            numbered(1, 8, Some(9)),
            numbered(1, 9, Some(8)),
        ],
    ));
    assert_eq!(root(&store), "span 2");
    assert_eq!(store.get(&trace_id(1)).unwrap().spans.len(), 6);
    let summary = &store.list(&TraceFilter::default())[0];
    assert_eq!(
        summary.services,
        [FRONTEND_SERVICE_NAME, BACKEND_SERVICE_NAME],
        "in order of their earliest span"
    );
}

#[test]
fn a_relayed_resource_is_the_browsers_whatever_its_service_is_called() {
    let store = TraceStore::new(StoreLimits::default());
    let mut relayed = export("cruddur-web", vec![numbered(1, 1, None)]);
    relayed[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(KeyValue {
            key: "cruddur.relayed".into(),
            value: Some(AnyValue {
                value: Some(Value::BoolValue(true)),
            }),
            ..Default::default()
        });
    store.insert(&relayed);
    store.insert(&export(BACKEND_SERVICE_NAME, vec![numbered(1, 2, Some(1))]));

    let summary = &store.list(&TraceFilter::default())[0];
    assert_eq!(summary.services, ["cruddur-web", BACKEND_SERVICE_NAME]);
    assert_eq!(summary.browser_services, ["cruddur-web"]);
    let detail = store.get(&trace_id(1)).unwrap();
    let browser: Vec<_> = detail
        .resources
        .iter()
        .map(|resource| (resource.service.as_str(), resource.browser))
        .collect();
    assert!(browser.contains(&("cruddur-web", true)), "{browser:?}");
    assert!(
        browser.contains(&(BACKEND_SERVICE_NAME, false)),
        "{browser:?}"
    );
}

#[tokio::test]
async fn the_backends_own_spans_are_kept_as_a_trip_through_otlp_would_keep_them() {
    use crate::telemetry::xray::test_spans;
    use opentelemetry::trace::{Event, SpanKind as OtelSpanKind};
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use std::time::SystemTime;

    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(BACKEND_SERVICE_NAME)
        .with_attribute(OtelKeyValue::new("telemetry.distro.name", "cruddur"))
        .build();
    let strings: Vec<opentelemetry::StringValue> = vec!["a".into(), "b c".into()];
    let mut server = test_spans::span(
        1,
        0,
        OtelSpanKind::Server,
        vec![
            OtelKeyValue::new("http.request.method", "GET"),
            OtelKeyValue::new("http.response.status_code", 500),
            OtelKeyValue::new("app.ratio", 0.25),
            OtelKeyValue::new("app.cached", false),
            OtelKeyValue::new("app.tags", OtelValue::Array(strings.into())),
            OtelKeyValue::new("app.sizes", OtelValue::Array(vec![1_i64, 2].into())),
        ],
    );
    server.status = OtelStatus::error("500 Internal Server Error");
    server.events.events.push(Event::new(
        "exception",
        SystemTime::now(),
        vec![OtelKeyValue::new("exception.message", "boom")],
        0,
    ));
    let child = test_spans::span(2, 1, OtelSpanKind::Client, Vec::new());
    let batch = vec![server, child];

    let direct = TraceStore::new(StoreLimits::default());
    let direct = Arc::new(direct);
    let mut exporter = StoreExporter::new(direct.clone());
    exporter.set_resource(&resource);
    exporter.export(batch.clone()).await.unwrap();

    let through_otlp = TraceStore::new(StoreLimits::default());
    through_otlp.insert(&group_spans_by_resource_and_scope(
        batch,
        &ResourceAttributesWithSchema::from(&resource),
    ));

    let trace = test_spans::TRACE;
    let kept = direct.get(trace).expect("the trace is kept");
    assert_eq!(kept.spans.len(), 2);
    assert_eq!(Some(kept), through_otlp.get(trace));
}

#[test]
fn a_traces_line_says_which_click_it_was_and_which_routes_it_reached_and_where_it_failed() {
    let store = TraceStore::new(StoreLimits::default());
    let mut click = span(Made {
        trace: 9,
        id: 1,
        parent: None,
        name: "click",
        start_millis: 0,
        millis: 40,
    });
    click.attributes = vec![string("app.target.label", "Crud")];
    let mut post = span(Made {
        trace: 9,
        id: 2,
        parent: Some(1),
        name: "POST",
        start_millis: 1,
        millis: 30,
    });
    post.attributes = vec![string(
        "url.full",
        "http://127.0.0.1:4567/api/activities?draft=1",
    )];
    store.insert(&export(FRONTEND_SERVICE_NAME, vec![click, post]));
    let server = |id: u8, parent: u8, name: &'static str, failed: bool| {
        let mut server = span(Made {
            trace: 9,
            id,
            parent: Some(parent),
            name,
            start_millis: u64::from(id),
            millis: 5,
        });
        server.kind = SpanKind::Server as i32;
        if failed {
            server.status = Some(Status {
                code: StatusCode::Error as i32,
                message: String::new(),
            });
        }
        server
    };
    store.insert(&export(
        BACKEND_SERVICE_NAME,
        vec![
            server(3, 2, "POST /api/activities", false),
            server(4, 2, "GET /api/activities/home", true),
            server(5, 2, "POST /api/activities", false),
        ],
    ));
    // A fetch with no action around it is its own root, told apart by its path.
    let mut fetch = span(Made {
        trace: 10,
        id: 1,
        parent: None,
        name: "GET",
        start_millis: 50,
        millis: 5,
    });
    fetch.attributes = vec![string("url.full", "http://127.0.0.1:4567/api/messages?x=1")];
    store.insert(&export(FRONTEND_SERVICE_NAME, vec![fetch]));

    let listed = store.list(&TraceFilter::default());
    let fetch = &listed[0];
    assert_eq!(
        (fetch.root_name.as_str(), fetch.root_detail.as_str()),
        ("GET", "/api/messages")
    );
    let click = &listed[1];
    assert_eq!(
        (click.root_name.as_str(), click.root_detail.as_str()),
        ("click", "\"Crud\"")
    );
    assert_eq!(
        click.routes,
        [
            RouteReached {
                name: "POST /api/activities".into(),
                error: false
            },
            RouteReached {
                name: "GET /api/activities/home".into(),
                error: true
            },
        ]
    );
}

#[test]
fn a_trace_is_found_by_its_xray_id_too() {
    let store = TraceStore::new(StoreLimits::default());
    store.insert(&one_span_trace(3));
    let xray = format!("1-03030303-{}", "03".repeat(12));
    assert_eq!(store.get(&xray).unwrap().trace_id, trace_id(3));
    assert!(store.get("1-03030303-short").is_none());
}

#[test]
fn a_trace_names_no_more_routes_than_its_line_holds() {
    let store = TraceStore::new(StoreLimits::default());
    let names: Vec<String> = (0..20).map(|route| format!("GET /api/{route}")).collect();
    let spans = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let mut server = numbered(4, index as u64 + 1, None);
            server.name = name.clone();
            server.kind = SpanKind::Server as i32;
            server
        })
        .collect();
    store.insert(&export(BACKEND_SERVICE_NAME, spans));
    let routes = &store.list(&TraceFilter::default())[0].routes;
    assert_eq!(routes.len(), MAX_ROUTES_LISTED);
    assert_eq!(routes[0].name, "GET /api/0");
}
