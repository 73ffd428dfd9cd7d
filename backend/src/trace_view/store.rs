//! Recent traces kept in memory for the local trace view: the backend's own spans and the
//! browser's relayed ones, joined by trace id. Bounded three ways: by trace count, by an
//! estimate of the bytes held (the trace still filling included), and by spans per trace; the
//! trace that arrived first is evicted first, and spans past a trace's cap are dropped and
//! counted on the trace.
//!
//! Every call holds the lock for work linear in what it changes, never in what is held: spans
//! are converted before the lock is taken, one trace's spans are inserted per hold, a trace's
//! summary is kept up to date as its spans arrive, readers clone `Arc`s and build their answer
//! after the lock is released, and evicted traces are freed after it too.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanId as OtelSpanId, SpanKind as OtelSpanKind, Status as OtelStatus};
use opentelemetry::{Array, KeyValue as OtelKeyValue, Value as OtelValue};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use shared::traces::{
    self, Attribute, MAX_ROUTES_LISTED, ResourceView, RouteReached, SpanEvent, SpanStatus,
    SpanView, TraceDetail, TraceFilter, TraceSummary, w3c_trace_id, xray_trace_id,
};

use crate::losses::LossCounter;
use crate::sync;
use crate::trace_format::{hex, unix_nanos};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_traces: usize,
    pub max_bytes: usize,
    pub max_spans_per_trace: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_traces: 500,
            max_bytes: 64 * 1024 * 1024,
            max_spans_per_trace: 5_000,
        }
    }
}

type TraceId = [u8; 16];
type SpanId = [u8; 8];

pub struct TraceStore {
    limits: StoreLimits,
    held: Mutex<Held>,
    /// Keys the fingerprints that find a trace's copy of a resource, so that no client can
    /// choose resources that collide.
    fingerprints: RandomState,
    /// Spans the caps refuse, said in the log at most once a minute.
    drops: LossCounter,
}

#[derive(Default)]
struct Held {
    traces: HashMap<TraceId, StoredTrace>,
    /// Trace ids by first arrival: the front is evicted first.
    arrival: VecDeque<TraceId>,
    bytes: usize,
}

#[derive(Default)]
struct StoredTrace {
    /// The spans in the batches they arrived in; readers clone the `Arc`s, not the spans.
    batches: Vec<Arc<Vec<StoredSpan>>>,
    /// Each resource once, however many spans share it; a span holds its index here.
    resources: Vec<Arc<ResourceView>>,
    /// Where each resource's copy is, by fingerprint.
    resource_index: HashMap<u64, u32>,
    summary: RunningSummary,
    bytes: usize,
}

/// What the list shows of a trace, kept up to date span by span.
#[derive(Default)]
struct RunningSummary {
    span_count: usize,
    dropped_spans: u64,
    start: Option<u64>,
    end: u64,
    error: bool,
    /// The earliest start of each resource's spans: the services' order of appearance.
    resource_starts: Vec<u64>,
    span_ids: HashSet<SpanId>,
    /// Spans whose parent is not (yet) in the trace, by start: the first is the root.
    roots: BTreeSet<(u64, SpanAt)>,
    /// Root candidates by the parent they wait for: when it arrives they are roots no more.
    waiting_for_parent: HashMap<SpanId, Vec<(u64, SpanAt)>>,
    /// The backend routes reached: SERVER spans' names, each once, at most `MAX_ROUTES_LISTED`.
    routes: Vec<RouteReached>,
}

/// A span's place in its trace: batch, then index in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SpanAt(u32, u32);

struct StoredSpan {
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    name: String,
    kind: traces::SpanKind,
    status: SpanStatus,
    status_message: String,
    start_unix_micros: u64,
    duration_micros: u64,
    attributes: Vec<Attribute>,
    events: Vec<SpanEvent>,
    /// In the export while converting, then in the trace's resources.
    resource: u32,
}

/// One export's spans of one trace, converted before the lock is taken.
struct Arriving {
    trace_id: TraceId,
    spans: Vec<(StoredSpan, usize)>,
}

/// An export's spans grouped by trace, the traces in the order their first spans arrive.
#[derive(Default)]
struct ArrivingTraces {
    traces: Vec<Arriving>,
    slots: HashMap<TraceId, usize>,
}

impl ArrivingTraces {
    fn push(&mut self, trace_id: TraceId, span: StoredSpan) {
        let bytes = span_bytes(&span);
        let slot = *self.slots.entry(trace_id).or_insert_with(|| {
            self.traces.push(Arriving {
                trace_id,
                spans: Vec::new(),
            });
            self.traces.len() - 1
        });
        self.traces[slot].spans.push((span, bytes));
    }
}

/// One resource of an export, converted before the lock is taken.
#[derive(Debug)]
struct ArrivingResource {
    resource: Arc<ResourceView>,
    fingerprint: u64,
    bytes: usize,
}

/// What `list` takes from a trace under the lock.
struct Listed {
    trace_id: TraceId,
    span_count: usize,
    dropped_spans: u64,
    start: u64,
    end: u64,
    error: bool,
    root_name: String,
    root_detail: String,
    routes: Vec<RouteReached>,
    resources: Vec<(Arc<ResourceView>, u64)>,
}

impl TraceStore {
    pub fn new(limits: StoreLimits) -> Self {
        TraceStore {
            limits,
            held: Mutex::new(Held::default()),
            fingerprints: RandomState::new(),
            drops: LossCounter::reporting_every(Duration::from_secs(60)),
        }
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Keeps the spans of an OTLP export, whoever made them. Linear in the export; the lock is
    /// held for one trace's spans at a time.
    pub fn insert(&self, resource_spans: &[ResourceSpans]) {
        let (resources, arriving) = self.convert(resource_spans);
        self.keep_all(&resources, arriving);
    }

    /// Keeps the backend's own spans as the SDK hands them over, converted once, straight to
    /// what the store holds; they look the same as if they had arrived over OTLP.
    fn insert_own(&self, resource: &ArrivingResource, spans: &[SpanData]) {
        let mut arriving = ArrivingTraces::default();
        for span in spans {
            arriving.push(
                span.span_context.trace_id().to_bytes(),
                own_stored_span(span, 0),
            );
        }
        self.keep_all(std::slice::from_ref(resource), arriving.traces);
    }

    fn keep_all(&self, resources: &[ArrivingResource], arriving: Vec<Arriving>) {
        let mut dropped = 0;
        for trace in arriving {
            let (refused, evicted) = {
                let mut held = sync::lock(&self.held);
                let refused = self.keep(&mut held, resources, trace);
                (refused, self.evict(&mut held))
            };
            dropped += refused.len();
            // Freed here, after the lock: a big trace takes a while to free.
            drop((refused, evicted));
        }
        if let Some(report) = self.drops.add(dropped as u64) {
            // Not on the relayed request's span: the store's caps are the store's affair.
            tracing::warn!(
                parent: None,
                dropped_spans = report.since_last_report,
                total = report.total,
                max_spans_per_trace = self.limits.max_spans_per_trace,
                max_bytes = self.limits.max_bytes,
                "the local trace store drops spans past a trace's caps; each trace counts its own"
            );
        }
    }

    fn convert(&self, resource_spans: &[ResourceSpans]) -> (Vec<ArrivingResource>, Vec<Arriving>) {
        let mut resources = Vec::with_capacity(resource_spans.len());
        let mut arriving = ArrivingTraces::default();
        for resource_spans in resource_spans {
            let attributes = resource_spans
                .resource
                .as_ref()
                .map(|resource| resource.attributes.as_slice())
                .unwrap_or_default();
            let index = u32::try_from(resources.len()).unwrap_or(u32::MAX);
            resources.push(self.arriving_resource(attributes));
            let spans = resource_spans
                .scope_spans
                .iter()
                .flat_map(|scope| &scope.spans);
            for span in spans {
                let (Ok(trace_id), Ok(span_id)) = (
                    <TraceId>::try_from(span.trace_id.as_slice()),
                    <SpanId>::try_from(span.span_id.as_slice()),
                ) else {
                    continue;
                };
                arriving.push(trace_id, stored_span(span, span_id, index));
            }
        }
        (resources, arriving.traces)
    }

    fn arriving_resource(&self, attributes: &[KeyValue]) -> ArrivingResource {
        let service = attributes
            .iter()
            .find(|attribute| attribute.key == "service.name")
            .map(|attribute| text(attribute.value.as_ref()))
            .unwrap_or_else(|| "unknown_service".to_owned());
        let browser = attributes.iter().any(|attribute| {
            attribute.key == "cruddur.relayed"
                && attribute
                    .value
                    .as_ref()
                    .and_then(|value| value.value.as_ref())
                    == Some(&Value::BoolValue(true))
        });
        let resource = ResourceView {
            service,
            browser,
            attributes: self::attributes(
                attributes
                    .iter()
                    .filter(|attribute| attribute.key != "service.name"),
            ),
        };
        ArrivingResource {
            fingerprint: self.fingerprints.hash_one(&resource),
            bytes: resource_bytes(&resource),
            resource: Arc::new(resource),
        }
    }

    /// Adds one trace's arriving spans, as many as its caps allow; returns the refused ones.
    fn keep(
        &self,
        held: &mut Held,
        resources: &[ArrivingResource],
        trace: Arriving,
    ) -> Vec<StoredSpan> {
        let limits = self.limits;
        let stored = match held.traces.entry(trace.trace_id) {
            Entry::Occupied(stored) => stored.into_mut(),
            Entry::Vacant(vacant) => {
                held.arrival.push_back(trace.trace_id);
                held.bytes += PER_TRACE;
                vacant.insert(StoredTrace {
                    bytes: PER_TRACE,
                    ..StoredTrace::default()
                })
            }
        };
        let batch_index = u32::try_from(stored.batches.len()).unwrap_or(u32::MAX);
        let before = stored.bytes;
        let mut batch = Vec::new();
        let mut refused = Vec::new();
        // The export's resource indices, mapped to the trace's once each.
        let mut in_trace: HashMap<u32, u32> = HashMap::new();
        for (mut span, bytes) in trace.spans {
            let new_resource = !in_trace.contains_key(&span.resource);
            let arriving = &resources[span.resource as usize];
            // The batch's own cost comes with its first span: counted after the spans, it would
            // take a trace near the cap past it, and the whole trace would be evicted.
            let cost = bytes
                + if new_resource { arriving.bytes } else { 0 }
                + if batch.is_empty() { PER_BATCH } else { 0 };
            let full = stored.summary.span_count >= limits.max_spans_per_trace
                || stored.bytes + cost > limits.max_bytes;
            if full {
                stored.summary.dropped_spans += 1;
                refused.push(span);
                continue;
            }
            let resource = match in_trace.get(&span.resource) {
                Some(resource) => *resource,
                None => {
                    let resource = stored.resource(arriving);
                    in_trace.insert(span.resource, resource);
                    resource
                }
            };
            span.resource = resource;
            let at = SpanAt(batch_index, u32::try_from(batch.len()).unwrap_or(u32::MAX));
            stored.summary.observe(&span, at);
            stored.bytes += bytes;
            if batch.is_empty() {
                stored.bytes += PER_BATCH;
            }
            batch.push(span);
        }
        if !batch.is_empty() {
            stored.batches.push(Arc::new(batch));
        }
        held.bytes += stored.bytes - before;
        refused
    }

    /// Evicts the oldest traces until the caps hold; returns them, to be freed after the lock.
    fn evict(&self, held: &mut Held) -> Vec<StoredTrace> {
        let mut evicted = Vec::new();
        while held.arrival.len() > self.limits.max_traces || held.bytes > self.limits.max_bytes {
            let Some(oldest) = held.arrival.pop_front() else {
                break;
            };
            if let Some(trace) = held.traces.remove(&oldest) {
                held.bytes -= trace.bytes;
                evicted.push(trace);
            }
        }
        evicted
    }

    /// The traces that match, newest first.
    pub fn list(&self, filter: &TraceFilter) -> Vec<TraceSummary> {
        let listed: Vec<Listed> = {
            let held = sync::lock(&self.held);
            held.traces
                .iter()
                .map(|(trace_id, trace)| trace.listed(*trace_id))
                .collect()
        };
        let mut summaries: Vec<TraceSummary> = listed
            .into_iter()
            .map(Listed::into_summary)
            .filter(|summary| summary.matches(filter))
            .collect();
        summaries.sort_by_key(|summary| std::cmp::Reverse(summary.start_unix_micros));
        summaries
    }

    /// The whole trace, its spans ordered by start, each resource once; None for an id the
    /// store doesn't hold.
    pub fn get(&self, trace_id: &str) -> Option<TraceDetail> {
        let id = parse_trace_id(&w3c_trace_id(trace_id)?)?;
        let (batches, resources, dropped_spans) = {
            let held = sync::lock(&self.held);
            let trace = held.traces.get(&id)?;
            (
                trace.batches.clone(),
                trace.resources.clone(),
                trace.summary.dropped_spans,
            )
        };
        let mut spans: Vec<&StoredSpan> = batches.iter().flat_map(|batch| batch.iter()).collect();
        spans.sort_by_key(|span| span.start_unix_micros);
        let trace_id = hex(&id);
        Some(TraceDetail {
            xray_trace_id: xray_trace_id(&trace_id).unwrap_or_default(),
            honeycomb_url: None,
            xray_url: None,
            resources: resources
                .iter()
                .map(|resource| ResourceView::clone(resource))
                .collect(),
            spans: spans.into_iter().map(span_view).collect(),
            dropped_spans,
            trace_id,
        })
    }

    /// What the store holds: traces, and its estimate of their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let held = sync::lock(&self.held);
        (held.traces.len(), held.bytes)
    }
}

impl StoredTrace {
    /// The trace's copy of `arriving`, added if the trace has none yet.
    fn resource(&mut self, arriving: &ArrivingResource) -> u32 {
        if let Some(index) = self.resource_index.get(&arriving.fingerprint)
            && *self.resources[*index as usize] == *arriving.resource
        {
            return *index;
        }
        let index = u32::try_from(self.resources.len()).unwrap_or(u32::MAX);
        self.resources.push(arriving.resource.clone());
        self.summary.resource_starts.push(u64::MAX);
        self.resource_index
            .entry(arriving.fingerprint)
            .or_insert(index);
        self.bytes += arriving.bytes;
        index
    }

    fn listed(&self, trace_id: TraceId) -> Listed {
        let summary = &self.summary;
        let root = summary
            .roots
            .first()
            .map(|(_, SpanAt(batch, index))| &self.batches[*batch as usize][*index as usize]);
        Listed {
            trace_id,
            span_count: summary.span_count,
            dropped_spans: summary.dropped_spans,
            start: summary.start.unwrap_or_default(),
            end: summary.end,
            error: summary.error,
            root_name: root.map(|root| root.name.clone()).unwrap_or_default(),
            root_detail: root.map(root_detail).unwrap_or_default(),
            routes: summary.routes.clone(),
            resources: self
                .resources
                .iter()
                .cloned()
                .zip(summary.resource_starts.iter().copied())
                .collect(),
        }
    }
}

impl RunningSummary {
    fn observe(&mut self, span: &StoredSpan, at: SpanAt) {
        let start = span.start_unix_micros;
        self.span_count += 1;
        self.start = Some(self.start.map_or(start, |earliest| earliest.min(start)));
        self.end = self.end.max(start.saturating_add(span.duration_micros));
        self.error |= span.status == SpanStatus::Error;
        if span.kind == traces::SpanKind::Server {
            self.reached(span);
        }
        if let Some(first) = self.resource_starts.get_mut(span.resource as usize) {
            *first = (*first).min(start);
        }
        if self.span_ids.insert(span.span_id)
            && let Some(children) = self.waiting_for_parent.remove(&span.span_id)
        {
            for child in children {
                self.roots.remove(&child);
            }
        }
        match span.parent_span_id {
            Some(parent) if self.span_ids.contains(&parent) => {}
            Some(parent) => {
                self.roots.insert((start, at));
                self.waiting_for_parent
                    .entry(parent)
                    .or_default()
                    .push((start, at));
            }
            None => {
                self.roots.insert((start, at));
            }
        }
    }

    /// Notes the route a SERVER span served: a browser's relayed spans are never SERVER spans,
    /// so these are the backend's.
    fn reached(&mut self, span: &StoredSpan) {
        let error = span.status == SpanStatus::Error;
        if let Some(known) = self.routes.iter_mut().find(|route| route.name == span.name) {
            known.error |= error;
        } else if self.routes.len() < MAX_ROUTES_LISTED {
            self.routes.push(RouteReached {
                name: span.name.clone(),
                error,
            });
        }
    }
}

/// The longest `root_detail`, in characters: a label, a path; not a page of text.
const MAX_ROOT_DETAIL_CHARS: usize = 80;

/// What tells a root apart from others of its name: a click's label in quotes, a route
/// change's destination, a fetch's path, a page load's path.
fn root_detail(root: &StoredSpan) -> String {
    let attribute = |key: &str| {
        root.attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .map(|attribute| attribute.value.as_str())
    };
    let detail = if let Some(label) = attribute("app.target.label") {
        format!("\"{label}\"")
    } else if let Some(to) = attribute("app.route.to") {
        to.to_owned()
    } else if let Some(url) = attribute("url.full") {
        path_of(url).to_owned()
    } else if root.kind == traces::SpanKind::Server {
        // Its name is already its method and route.
        String::new()
    } else {
        attribute("url.path").unwrap_or_default().to_owned()
    };
    detail.chars().take(MAX_ROOT_DETAIL_CHARS).collect()
}

/// `/api/activities` of `http://localhost:4567/api/activities?page=2`.
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

impl Listed {
    fn into_summary(self) -> TraceSummary {
        let mut resources = self.resources;
        resources.sort_by_key(|(_, first_start)| *first_start);
        let mut seen = HashSet::new();
        let services: Vec<String> = resources
            .iter()
            .filter(|(resource, _)| seen.insert(resource.service.as_str()))
            .map(|(resource, _)| resource.service.clone())
            .collect();
        let browser_services = services
            .iter()
            .filter(|service| {
                resources
                    .iter()
                    .any(|(resource, _)| resource.browser && &resource.service == *service)
            })
            .cloned()
            .collect();
        TraceSummary {
            trace_id: hex(&self.trace_id),
            root_name: self.root_name,
            root_detail: self.root_detail,
            routes: self.routes,
            services,
            browser_services,
            start_unix_micros: self.start,
            duration_micros: self.end.saturating_sub(self.start),
            span_count: self.span_count,
            dropped_spans: self.dropped_spans,
            error: self.error,
        }
    }
}

/// The backend's own spans into the store, from a batch processor of its own: off the request
/// path, and bounded like every exporter's queue.
#[derive(Debug)]
pub struct StoreExporter {
    store: Arc<TraceStore>,
    /// The backend's resource as the store holds it, made once.
    resource: ArrivingResource,
}

impl StoreExporter {
    pub fn new(store: Arc<TraceStore>) -> Self {
        let resource = store.arriving_resource(&[]);
        StoreExporter { store, resource }
    }
}

impl SpanExporter for StoreExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.store.insert_own(&self.resource, &batch);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        // The resource's attributes as OTLP writes them, so its view is the one a trip
        // through OTLP would give.
        let attributes = ResourceAttributesWithSchema::from(resource).attributes.0;
        self.resource = self.store.arriving_resource(&attributes);
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

/// A trace id as the API writes it (32 hex digits, either case).
/// 32 hex digits, and nothing else: `from_str_radix` alone would take a leading `+`.
fn parse_trace_id(text: &str) -> Option<TraceId> {
    let valid = text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit());
    valid
        .then(|| u128::from_str_radix(text, 16).ok())
        .flatten()
        .map(u128::to_be_bytes)
}

fn stored_span(span: &Span, span_id: SpanId, resource: u32) -> StoredSpan {
    let status = span.status.as_ref();
    StoredSpan {
        span_id,
        parent_span_id: SpanId::try_from(span.parent_span_id.as_slice()).ok(),
        name: span.name.clone(),
        kind: match SpanKind::try_from(span.kind) {
            Ok(SpanKind::Server) => traces::SpanKind::Server,
            Ok(SpanKind::Client) => traces::SpanKind::Client,
            Ok(SpanKind::Producer) => traces::SpanKind::Producer,
            Ok(SpanKind::Consumer) => traces::SpanKind::Consumer,
            _ => traces::SpanKind::Internal,
        },
        status: match status.map(|status| StatusCode::try_from(status.code)) {
            Some(Ok(StatusCode::Error)) => SpanStatus::Error,
            Some(Ok(StatusCode::Ok)) => SpanStatus::Ok,
            _ => SpanStatus::Unset,
        },
        status_message: status
            .map(|status| status.message.clone())
            .unwrap_or_default(),
        start_unix_micros: span.start_time_unix_nano / 1000,
        duration_micros: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
            / 1000,
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
        resource,
    }
}

/// The backend's own span as `stored_span` would keep it after a trip through OTLP.
fn own_stored_span(span: &SpanData, resource: u32) -> StoredSpan {
    let (status, status_message) = match &span.status {
        OtelStatus::Error { description } => (SpanStatus::Error, description.to_string()),
        OtelStatus::Ok => (SpanStatus::Ok, String::new()),
        OtelStatus::Unset => (SpanStatus::Unset, String::new()),
    };
    let start = unix_nanos(span.start_time);
    StoredSpan {
        span_id: span.span_context.span_id().to_bytes(),
        parent_span_id: (span.parent_span_id != OtelSpanId::INVALID)
            .then(|| span.parent_span_id.to_bytes()),
        name: span.name.to_string(),
        kind: match span.span_kind {
            OtelSpanKind::Server => traces::SpanKind::Server,
            OtelSpanKind::Client => traces::SpanKind::Client,
            OtelSpanKind::Producer => traces::SpanKind::Producer,
            OtelSpanKind::Consumer => traces::SpanKind::Consumer,
            OtelSpanKind::Internal => traces::SpanKind::Internal,
        },
        status,
        status_message,
        start_unix_micros: start / 1000,
        duration_micros: unix_nanos(span.end_time).saturating_sub(start) / 1000,
        attributes: own_attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.to_string(),
                time_unix_micros: unix_nanos(event.timestamp) / 1000,
                attributes: own_attributes(&event.attributes),
            })
            .collect(),
        resource,
    }
}

fn own_attributes(attributes: &[OtelKeyValue]) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|attribute| Attribute {
            key: attribute.key.as_str().to_owned(),
            value: own_text(&attribute.value),
        })
        .collect()
}

/// What `text` makes of the value once OTLP has carried it.
fn own_text(value: &OtelValue) -> String {
    fn list<T: ToString>(values: &[T]) -> String {
        let texts: Vec<String> = values.iter().map(ToString::to_string).collect();
        format!("[{}]", texts.join(", "))
    }
    match value {
        OtelValue::String(text) => text.as_str().to_owned(),
        // What `to_string` writes, without the formatter: every request has a few of each.
        OtelValue::Bool(value) => if *value { "true" } else { "false" }.to_owned(),
        OtelValue::I64(value) => itoa::Buffer::new().format(*value).to_owned(),
        OtelValue::F64(value) => value.to_string(),
        OtelValue::Array(Array::Bool(values)) => list(values),
        OtelValue::Array(Array::I64(values)) => list(values),
        OtelValue::Array(Array::F64(values)) => list(values),
        OtelValue::Array(Array::String(values)) => list(values),
        other => other.to_string(),
    }
}

fn span_view(span: &StoredSpan) -> SpanView {
    SpanView {
        span_id: hex(&span.span_id),
        parent_span_id: span.parent_span_id.map(|parent| hex(&parent)),
        name: span.name.clone(),
        kind: span.kind,
        resource: span.resource as usize,
        start_unix_micros: span.start_unix_micros,
        duration_micros: span.duration_micros,
        status: span.status,
        status_message: span.status_message.clone(),
        attributes: span.attributes.clone(),
        events: span.events.clone(),
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

/// A trace's own structures: its entries in the store's map and arrival queue, and its maps'
/// first allocations.
const PER_TRACE: usize =
    std::mem::size_of::<StoredTrace>() + std::mem::size_of::<TraceId>() * 2 + 8 * PER_ALLOCATION;

/// A batch's `Arc`, its vector and its place in the trace's list.
const PER_BATCH: usize = 2 * PER_ALLOCATION + 4 * std::mem::size_of::<usize>();

/// What the summary's indexes hold per span: its id in the set of ids and, while its parent
/// has not arrived, a root candidate and a place in the waiting list, with the spare room of
/// hash tables that grow by doubling.
const PER_SPAN_INDEX: usize = 2 * std::mem::size_of::<SpanId>()
    + 2 * std::mem::size_of::<(u64, SpanAt)>()
    + std::mem::size_of::<SpanId>()
    + PER_ALLOCATION;

fn text_bytes(text: &str) -> usize {
    text.len() + PER_ALLOCATION
}

fn attribute_bytes(attributes: &[Attribute]) -> usize {
    PER_ALLOCATION
        + attributes
            .iter()
            .map(|attribute| {
                std::mem::size_of::<Attribute>()
                    + text_bytes(&attribute.key)
                    + text_bytes(&attribute.value)
            })
            .sum::<usize>()
}

/// The heap a span holds: each string and vector with its allocation cost, the struct itself
/// and its share of the summary's indexes. Its resource is counted once per trace, apart.
fn span_bytes(span: &StoredSpan) -> usize {
    std::mem::size_of::<StoredSpan>()
        + PER_SPAN_INDEX
        + text_bytes(&span.name)
        + text_bytes(&span.status_message)
        + attribute_bytes(&span.attributes)
        + PER_ALLOCATION
        + span
            .events
            .iter()
            .map(|event| {
                std::mem::size_of::<SpanEvent>()
                    + text_bytes(&event.name)
                    + attribute_bytes(&event.attributes)
            })
            .sum::<usize>()
}

/// A resource's heap, with its `Arc` and its places in the trace's list and index.
fn resource_bytes(resource: &ResourceView) -> usize {
    std::mem::size_of::<ResourceView>()
        + 2 * PER_ALLOCATION
        + text_bytes(&resource.service)
        + attribute_bytes(&resource.attributes)
        + std::mem::size_of::<Arc<ResourceView>>()
        + std::mem::size_of::<(u64, u32, u64)>()
}

#[cfg(test)]
mod tests;
