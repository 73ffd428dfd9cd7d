use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

use super::{EncodedResource, export_request};

fn context(trace: u8, span: u8, is_remote: bool, state: TraceState) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes([trace; 16]),
        SpanId::from_bytes([span; 8]),
        TraceFlags::SAMPLED,
        is_remote,
        state,
    )
}

/// Every kind of value a span attribute can hold, defaults and extremes included.
fn every_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("text", "a crud"),
        KeyValue::new("empty.text", ""),
        KeyValue::new("yes", true),
        KeyValue::new("no", false),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("negative", -42_i64),
        KeyValue::new("largest", i64::MAX),
        KeyValue::new("ratio", 0.25_f64),
        KeyValue::new("zero.ratio", 0.0_f64),
        KeyValue::new("flags", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("numbers", Value::Array(Array::I64(vec![0, -1, 300]))),
        KeyValue::new("ratios", Value::Array(Array::F64(vec![1.5, 0.0]))),
        KeyValue::new(
            "names",
            Value::Array(Array::String(vec![
                StringValue::from("first"),
                StringValue::from(""),
                StringValue::from("ü".repeat(100)),
            ])),
        ),
        KeyValue::new("nothing", Value::Array(Array::String(Vec::new()))),
        KeyValue::new("", "an empty key"),
        KeyValue::new("long", "x".repeat(20_000)),
    ]
}

fn span(
    name: &'static str,
    kind: SpanKind,
    scope: &InstrumentationScope,
    parent: SpanId,
    status: Status,
) -> SpanData {
    SpanData {
        span_context: context(7, name.len() as u8, false, TraceState::NONE),
        parent_span_id: parent,
        parent_span_is_remote: false,
        span_kind: kind,
        name: Cow::Borrowed(name),
        start_time: UNIX_EPOCH + Duration::from_nanos(1_764_000_000_123_456_789),
        end_time: UNIX_EPOCH + Duration::from_nanos(1_764_000_000_223_456_789),
        attributes: vec![KeyValue::new("http.route", "/api/activities/home")],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

fn spans() -> Vec<SpanData> {
    let backend = InstrumentationScope::builder("cruddur-backend").build();
    let library = InstrumentationScope::builder("a-library")
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
        .with_attributes([KeyValue::new("scope.attribute", 3_i64)])
        .build();

    let mut server = span(
        "GET /api/activities/home",
        SpanKind::Server,
        &backend,
        SpanId::from_bytes([9; 8]),
        Status::error("the database is locked"),
    );
    server.span_context = context(
        1,
        2,
        false,
        TraceState::from_key_value([("vendor", "value"), ("other", "1")]).unwrap(),
    );
    server.parent_span_is_remote = true;
    server.attributes = every_value();
    server.dropped_attributes_count = 3;
    server.events.events.push(Event::new(
        "exception",
        UNIX_EPOCH + Duration::from_millis(1_764_000_000_150),
        every_value(),
        1,
    ));
    server
        .events
        .events
        .push(Event::new("", UNIX_EPOCH, Vec::new(), 0));
    server.events.dropped_count = 5;
    server.links.links.push(Link::new(
        context(
            3,
            4,
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        ),
        vec![KeyValue::new("link.reason", "follows")],
        2,
    ));
    server.links.links.push(Link::new(
        context(5, 6, false, TraceState::NONE),
        Vec::new(),
        0,
    ));
    server.links.dropped_count = 1;

    let mut before_the_epoch = span(
        "SELECT cruds",
        SpanKind::Client,
        &backend,
        SpanId::from_bytes([2; 8]),
        Status::Unset,
    );
    before_the_epoch.start_time = UNIX_EPOCH - Duration::from_secs(1);
    before_the_epoch.span_context = SpanContext::new(
        TraceId::from_bytes([1; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::default(),
        false,
        TraceState::NONE,
    );
    vec![
        server,
        span(
            "root",
            SpanKind::Internal,
            &library,
            SpanId::INVALID,
            Status::Ok,
        ),
        before_the_epoch,
        span(
            "publish",
            SpanKind::Producer,
            &backend,
            SpanId::INVALID,
            Status::Unset,
        ),
        span(
            "consume",
            SpanKind::Consumer,
            &library,
            SpanId::INVALID,
            Status::error(""),
        ),
    ]
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_schema_url(
            [KeyValue::new("service.name", "cruddur-backend")],
            "https://opentelemetry.io/schemas/1.30.0",
        )
        .with_attribute(KeyValue::new("telemetry.distro.name", "cruddur"))
        .with_attribute(KeyValue::new("process.pid", 42_i64))
        .build()
}

fn through_opentelemetry_proto(
    spans: Vec<SpanData>,
    resource: &Resource,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            spans,
            &ResourceAttributesWithSchema::from(resource),
        ),
    }
}

#[test]
fn every_field_decodes_as_opentelemetry_protos_own_conversion_writes_it() {
    let resource = resource();
    let ours = export_request(&spans(), &EncodedResource::new(&resource));
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).expect("valid protobuf");
    assert_eq!(decoded, through_opentelemetry_proto(spans(), &resource));
}

#[test]
fn the_bytes_are_the_ones_prost_writes_for_the_same_message() {
    let resource = resource();
    let ours = export_request(&spans(), &EncodedResource::new(&resource));
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
    assert_eq!(
        ours.len(),
        decoded.encoded_len(),
        "every length prefix is minimal"
    );
}

#[test]
fn spans_of_one_scope_keep_their_order_and_scopes_follow_first_appearance() {
    let resource = resource();
    let ours = export_request(&spans(), &EncodedResource::new(&resource));
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
    let scopes: Vec<(String, Vec<String>)> = decoded.resource_spans[0]
        .scope_spans
        .iter()
        .map(|scope_spans| {
            (
                scope_spans.scope.as_ref().unwrap().name.clone(),
                scope_spans
                    .spans
                    .iter()
                    .map(|span| span.name.clone())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            (
                "cruddur-backend".to_owned(),
                vec![
                    "GET /api/activities/home".to_owned(),
                    "SELECT cruds".to_owned(),
                    "publish".to_owned()
                ]
            ),
            (
                "a-library".to_owned(),
                vec!["root".to_owned(), "consume".to_owned()]
            ),
        ]
    );
}

#[test]
fn a_resource_without_attributes_or_schema_still_encodes() {
    let resource = Resource::builder_empty().build();
    let one = vec![spans().remove(1)];
    let ours = export_request(&one, &EncodedResource::new(&resource));
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
    assert_eq!(decoded, through_opentelemetry_proto(one, &resource));
}

#[test]
fn no_spans_make_no_body() {
    assert!(export_request(&[], &EncodedResource::default()).is_empty());
}

#[test]
fn a_time_before_the_epoch_is_written_as_zero() {
    assert_eq!(
        crate::telemetry::unix_nanos(SystemTime::UNIX_EPOCH - Duration::from_secs(5)),
        0
    );
}
