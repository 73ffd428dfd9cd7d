//! A batch of spans as the SDK hands them to the X-Ray exporter, of any names, attributes,
//! events, kinds and nesting (parents before children, as spans are made): building and
//! splitting the segment documents never panics, and every document is JSON.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use backend::telemetry::xray::SegmentNaming;
use backend::telemetry::xray::segment::Translator;
use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

#[derive(Debug, Arbitrary)]
enum FuzzValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Flag(bool),
    Texts(Vec<String>),
}

#[derive(Debug, Arbitrary)]
struct FuzzSpan {
    /// Which earlier span is the parent (none when past the end).
    parent: u8,
    kind: u8,
    name: String,
    attributes: Vec<(String, FuzzValue)>,
    events: Vec<(String, Vec<(String, FuzzValue)>)>,
    error: Option<String>,
    start_millis: u32,
    duration_millis: u16,
}

fn value(value: &FuzzValue) -> Value {
    match value {
        FuzzValue::Text(text) => Value::from(text.clone()),
        FuzzValue::Integer(integer) => Value::from(*integer),
        FuzzValue::Float(float) => Value::from(*float),
        FuzzValue::Flag(flag) => Value::from(*flag),
        FuzzValue::Texts(texts) => Value::Array(
            texts
                .iter()
                .map(|text| text.clone().into())
                .collect::<Vec<opentelemetry::StringValue>>()
                .into(),
        ),
    }
}

fn attributes(pairs: &[(String, FuzzValue)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, v)| KeyValue::new(key.clone(), value(v)))
        .collect()
}

const KINDS: [SpanKind; 5] = [
    SpanKind::Server,
    SpanKind::Client,
    SpanKind::Internal,
    SpanKind::Producer,
    SpanKind::Consumer,
];

fuzz_target!(|batch: Vec<FuzzSpan>| {
    let trace_id = TraceId::from_hex("6921a1b2c3d4e5f60718293a4b5c6d7e").unwrap();
    let spans: Vec<SpanData> = batch
        .iter()
        .enumerate()
        .map(|(index, span)| {
            let parent = usize::from(span.parent);
            let parent_span_id = if parent < index {
                SpanId::from(parent as u64 + 1)
            } else {
                SpanId::INVALID
            };
            let start = UNIX_EPOCH
                + Duration::from_secs(1_795_000_000)
                + Duration::from_millis(u64::from(span.start_millis));
            let mut events = SpanEvents::default();
            events.events = span
                .events
                .iter()
                .map(|(name, pairs)| Event::new(name.clone(), start, attributes(pairs), 0))
                .collect();
            SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    SpanId::from(index as u64 + 1),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id,
                parent_span_is_remote: false,
                span_kind: KINDS[usize::from(span.kind) % KINDS.len()].clone(),
                name: span.name.clone().into(),
                start_time: start,
                end_time: start + Duration::from_millis(u64::from(span.duration_millis)),
                attributes: attributes(&span.attributes),
                dropped_attributes_count: 0,
                events,
                links: SpanLinks::default(),
                status: span
                    .error
                    .as_ref()
                    .map_or(Status::Unset, |message| Status::error(message.clone())),
                instrumentation_scope: InstrumentationScope::default(),
            }
        })
        .collect();
    let refs: Vec<&SpanData> = spans.iter().collect();
    let translator = Translator::new(SegmentNaming::new(
        "cruddur-backend".into(),
        Some("*.example.com"),
    ));
    for document in translator.documents(&refs).documents {
        serde_json::from_str::<serde_json::Value>(&document).expect("every document is JSON");
    }
});
