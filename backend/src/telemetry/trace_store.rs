//! Recent traces kept in memory for the local trace view: the backend's own spans and the
//! browser's relayed ones, joined by trace id. Bounded twice, by trace count and by an estimate
//! of the bytes held; the trace that arrived first is evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use shared::traces::{
    self, Attribute, SpanEvent, SpanStatus, SpanView, TraceDetail, TraceFilter, TraceSummary,
    xray_trace_id,
};

use super::hex;
use crate::sync;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_traces: usize,
    pub max_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_traces: 500,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

pub struct TraceStore {
    limits: StoreLimits,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    traces: HashMap<String, StoredTrace>,
    /// Trace ids by first arrival: the front is evicted first.
    arrival: VecDeque<String>,
    bytes: usize,
}

struct StoredTrace {
    spans: Vec<SpanView>,
    bytes: usize,
}

impl TraceStore {
    pub fn new(limits: StoreLimits) -> Self {
        TraceStore {
            limits,
            held: Mutex::new(Held::default()),
        }
    }

    /// Keeps the spans of an OTLP export, whoever made them.
    pub fn insert(&self, resource_spans: &[ResourceSpans]) {
        let views = resource_spans.iter().flat_map(|resource_spans| {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|resource| resource.attributes.as_slice())
                .unwrap_or_default();
            let service = resource
                .iter()
                .find(|attribute| attribute.key == "service.name")
                .map(|attribute| text(attribute.value.as_ref()))
                .unwrap_or_else(|| "unknown_service".to_owned());
            let resource = attributes(
                resource
                    .iter()
                    .filter(|attribute| attribute.key != "service.name"),
            );
            resource_spans
                .scope_spans
                .iter()
                .flat_map(|scope| &scope.spans)
                .filter(|span| span.trace_id.len() == 16 && span.span_id.len() == 8)
                .map(move |span| (hex(&span.trace_id), view(span, &service, &resource)))
        });
        let mut held = sync::lock(&self.held);
        for (trace_id, span) in views {
            let bytes = estimated_bytes(&span);
            let trace = held
                .traces
                .entry(trace_id.clone())
                .or_insert_with(|| StoredTrace {
                    spans: Vec::new(),
                    bytes: 0,
                });
            let arrived_now = trace.spans.is_empty();
            trace.spans.push(span);
            trace.bytes += bytes;
            held.bytes += bytes;
            if arrived_now {
                held.arrival.push_back(trace_id);
            }
        }
        self.evict(&mut held);
    }

    fn evict(&self, held: &mut Held) {
        while held.arrival.len() > self.limits.max_traces
            || (held.bytes > self.limits.max_bytes && held.arrival.len() > 1)
        {
            let Some(oldest) = held.arrival.pop_front() else {
                break;
            };
            if let Some(trace) = held.traces.remove(&oldest) {
                held.bytes -= trace.bytes;
            }
        }
    }

    /// The traces that match, newest first.
    pub fn list(&self, filter: &TraceFilter) -> Vec<TraceSummary> {
        let held = sync::lock(&self.held);
        let mut summaries: Vec<TraceSummary> = held
            .traces
            .iter()
            .map(|(trace_id, trace)| summary(trace_id, &trace.spans))
            .filter(|summary| summary.matches(filter))
            .collect();
        summaries.sort_by_key(|summary| std::cmp::Reverse(summary.start_unix_micros));
        summaries
    }

    pub fn get(&self, trace_id: &str) -> Option<TraceDetail> {
        let trace_id = trace_id.to_ascii_lowercase();
        let held = sync::lock(&self.held);
        let trace = held.traces.get(&trace_id)?;
        let mut spans = trace.spans.clone();
        spans.sort_by_key(|span| span.start_unix_micros);
        Some(TraceDetail {
            xray_trace_id: xray_trace_id(&trace_id).unwrap_or_default(),
            honeycomb_url: None,
            trace_id,
            spans,
        })
    }

    /// What the store holds: traces, and its estimate of their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let held = sync::lock(&self.held);
        (held.traces.len(), held.bytes)
    }
}

/// The backend's own spans into the store, from a batch processor of its own: off the request
/// path, and bounded like every exporter's queue.
#[derive(Debug)]
pub struct StoreExporter {
    store: Arc<TraceStore>,
    resource: ResourceAttributesWithSchema,
}

impl StoreExporter {
    pub fn new(store: Arc<TraceStore>) -> Self {
        StoreExporter {
            store,
            resource: (&Resource::builder_empty().build()).into(),
        }
    }
}

impl SpanExporter for StoreExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.store
            .insert(&group_spans_by_resource_and_scope(batch, &self.resource));
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

impl std::fmt::Debug for TraceStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (traces, bytes) = self.usage();
        formatter
            .debug_struct("TraceStore")
            .field("limits", &self.limits)
            .field("traces", &traces)
            .field("bytes", &bytes)
            .finish()
    }
}

fn summary(trace_id: &str, spans: &[SpanView]) -> TraceSummary {
    let start = spans
        .iter()
        .map(|span| span.start_unix_micros)
        .min()
        .unwrap_or_default();
    let end = spans
        .iter()
        .map(|span| span.start_unix_micros + span.duration_micros)
        .max()
        .unwrap_or_default();
    let ids: Vec<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    let root = spans
        .iter()
        .filter(|span| {
            span.parent_span_id
                .as_deref()
                .is_none_or(|parent| !ids.contains(&parent))
        })
        .min_by_key(|span| span.start_unix_micros);
    let mut services: Vec<String> = Vec::new();
    let mut by_start: Vec<&SpanView> = spans.iter().collect();
    by_start.sort_by_key(|span| span.start_unix_micros);
    for span in by_start {
        if !services.contains(&span.service) {
            services.push(span.service.clone());
        }
    }
    TraceSummary {
        trace_id: trace_id.to_owned(),
        root_name: root.map(|span| span.name.clone()).unwrap_or_default(),
        services,
        start_unix_micros: start,
        duration_micros: end.saturating_sub(start),
        span_count: spans.len(),
        error: spans.iter().any(|span| span.status == SpanStatus::Error),
    }
}

fn view(span: &Span, service: &str, resource: &[Attribute]) -> SpanView {
    let status = span.status.as_ref();
    SpanView {
        span_id: hex(&span.span_id),
        parent_span_id: (span.parent_span_id.len() == 8).then(|| hex(&span.parent_span_id)),
        name: span.name.clone(),
        kind: match SpanKind::try_from(span.kind) {
            Ok(SpanKind::Server) => traces::SpanKind::Server,
            Ok(SpanKind::Client) => traces::SpanKind::Client,
            Ok(SpanKind::Producer) => traces::SpanKind::Producer,
            Ok(SpanKind::Consumer) => traces::SpanKind::Consumer,
            _ => traces::SpanKind::Internal,
        },
        service: service.to_owned(),
        start_unix_micros: span.start_time_unix_nano / 1000,
        duration_micros: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
            / 1000,
        status: match status.map(|status| StatusCode::try_from(status.code)) {
            Some(Ok(StatusCode::Error)) => SpanStatus::Error,
            Some(Ok(StatusCode::Ok)) => SpanStatus::Ok,
            _ => SpanStatus::Unset,
        },
        status_message: status
            .map(|status| status.message.clone())
            .unwrap_or_default(),
        attributes: attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.clone(),
                time_unix_micros: event.time_unix_nano / 1000,
                attributes: attributes(&event.attributes),
            })
            .collect(),
        resource: resource.to_vec(),
    }
}

fn attributes<'a>(attributes: impl IntoIterator<Item = &'a KeyValue>) -> Vec<Attribute> {
    attributes
        .into_iter()
        .map(|attribute| Attribute {
            key: attribute.key.clone(),
            value: text(attribute.value.as_ref()),
        })
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::BoolValue(value)) => value.to_string(),
        Some(Value::IntValue(value)) => value.to_string(),
        Some(Value::DoubleValue(value)) => value.to_string(),
        Some(Value::ArrayValue(array)) => format!(
            "[{}]",
            array
                .values
                .iter()
                .map(|value| text(Some(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Value::BytesValue(bytes)) => hex(bytes),
        Some(Value::KvlistValue(list)) => format!(
            "{{{}}}",
            list.values
                .iter()
                .map(|pair| format!("{}: {}", pair.key, text(pair.value.as_ref())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        // A string-table index means nothing without its table (OTLP profiles only).
        Some(Value::StringValueStrindex(_)) | None => String::new(),
    }
}

/// What an allocation costs beyond its bytes: the allocator's header and size-class rounding,
/// and the spare capacity of vectors. Measured with bench/trace-store.sh: without it, resident
/// memory at the byte cap came to about twice the cap.
const PER_ALLOCATION: usize = 32;

/// The heap a span holds: each string and vector with its allocation cost, plus the structs
/// (whose size counts the kind and status).
fn estimated_bytes(span: &SpanView) -> usize {
    let text = |text: &str| text.len() + PER_ALLOCATION;
    let attributes = |attributes: &[Attribute]| -> usize {
        PER_ALLOCATION
            + attributes
                .iter()
                .map(|attribute| {
                    std::mem::size_of::<Attribute>() + text(&attribute.key) + text(&attribute.value)
                })
                .sum::<usize>()
    };
    std::mem::size_of::<SpanView>()
        + text(&span.span_id)
        + span.parent_span_id.as_deref().map_or(0, text)
        + text(&span.name)
        + text(&span.service)
        + text(&span.status_message)
        + attributes(&span.attributes)
        + attributes(&span.resource)
        + PER_ALLOCATION
        + span
            .events
            .iter()
            .map(|event| {
                std::mem::size_of::<SpanEvent>() + text(&event.name) + attributes(&event.attributes)
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Status};
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
        assert_eq!(
            server.resource,
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
}
