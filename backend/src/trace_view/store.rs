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

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use shared::traces::{
    self, Attribute, ResourceView, RouteReached, SpanEvent, SpanStatus, TraceDetail, TraceFilter,
    TraceSummary, w3c_trace_id, xray_trace_id,
};

mod convert;
mod size;
mod summary;

use convert::{attributes, own_stored_span, span_view, stored_span, text};
use size::{PER_BATCH, PER_TRACE, resource_bytes, span_bytes};

use crate::losses::LossCounter;
use crate::sync;
use crate::trace_format::hex;

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

#[cfg(test)]
mod tests;
