//! AWS X-Ray from the same spans that go to OpenTelemetry: one trace id for both (X-Ray's form:
//! the first 8 hex digits are Unix seconds), a segment per request and a subsegment per span
//! in it, sent to the X-Ray daemon over UDP for the traces X-Ray sampling picks; or, with
//! `CRUDDUR_XRAY_EXPORTER=otlp`, those traces' spans as OTLP straight to X-Ray (`otlp`).
//!
//! From opentelemetry-aws: the `X-Amzn-Trace-Id` parser. Written here, each saying why: the
//! id generator, sampling, the segment translation, and the daemon client.

mod exporter;
pub mod ids;
pub mod otlp;
pub mod sampling;
pub mod segment;
pub mod settings;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, TraceFlags, TraceId};
use opentelemetry_sdk::trace::SpanData;
use wildmatch::WildMatch;

pub use exporter::SegmentExporter;
use otlp::SampledOtlpExporter;
pub use sampling::PerSecondLimit;
use sampling::{ForcedSamples, LocalRules, PollIntervals, SamplingRequest, XraySampler};
use segment::Translator;

use crate::losses::LossCounter;
use crate::sync;
use crate::telemetry::destinations::Destinations;
use settings::{XrayDestination, XraySettings};
use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The segment name: `AWS_XRAY_TRACING_NAME` or the service name, or the request's Host when
/// it matches `AWS_XRAY_URL` (the SDKs' dynamic naming).
#[derive(Debug, Clone)]
pub struct SegmentNaming {
    fixed: String,
    dynamic: Option<WildMatch>,
}

impl SegmentNaming {
    pub fn new(fixed: String, host_pattern: Option<&str>) -> Self {
        SegmentNaming {
            fixed: segment::document_name(&fixed),
            dynamic: host_pattern.map(WildMatch::new_case_insensitive),
        }
    }

    /// Always a name X-Ray accepts: a client chooses the Host, so it is cut to X-Ray's
    /// characters and length.
    pub fn name(&self, host: Option<&str>) -> String {
        match (host, &self.dynamic) {
            (Some(host), Some(pattern)) if !host.is_empty() && pattern.matches(host) => {
                segment::document_name(host)
            }
            _ => self.fixed.clone(),
        }
    }
}

/// Something remembered for each of the latest `capacity` traces, the oldest forgotten first.
#[derive(Debug)]
pub struct TraceMemory<V> {
    capacity: usize,
    inner: Mutex<(HashMap<TraceId, V>, VecDeque<TraceId>)>,
}

/// Each trace's X-Ray sampling decision, made when its first request arrives and read when
/// its spans are exported.
pub type TraceDecisions = TraceMemory<bool>;

impl<V: Copy> TraceMemory<V> {
    pub fn new(capacity: usize) -> Self {
        TraceMemory {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, trace_id: TraceId) -> Option<V> {
        let inner = sync::lock(&self.inner);
        inner.0.get(&trace_id).copied()
    }

    /// The value already remembered for the trace, or `decide()` now, outside the lock.
    pub fn get_or_decide(&self, trace_id: TraceId, decide: impl FnOnce() -> V) -> V {
        if let Some(decided) = self.get(trace_id) {
            return decided;
        }
        let value = decide();
        let mut inner = sync::lock(&self.inner);
        let (values, order) = &mut *inner;
        if values.insert(trace_id, value).is_none() {
            order.push_back(trace_id);
            self.forget_oldest(values, order);
        }
        value
    }

    /// Changes the trace's value, `initial` when none is remembered; `change` runs under the
    /// lock, so it must be quick.
    pub fn update<R>(&self, trace_id: TraceId, initial: V, change: impl FnOnce(&mut V) -> R) -> R {
        let mut inner = sync::lock(&self.inner);
        let (values, order) = &mut *inner;
        let value = values.entry(trace_id).or_insert_with(|| {
            order.push_back(trace_id);
            initial
        });
        let result = change(value);
        self.forget_oldest(values, order);
        result
    }

    fn forget_oldest(&self, values: &mut HashMap<TraceId, V>, order: &mut VecDeque<TraceId>) {
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                values.remove(&oldest);
            }
        }
    }
}

/// How many traces' decisions are remembered: far more than are ever in flight at once.
const REMEMBERED_DECISIONS: usize = 16_384;

/// The request side of X-Ray: decides sampling and answers `X-Amzn-Trace-Id`.
#[derive(Debug, Clone)]
pub struct XrayRecorder {
    sampler: Arc<XraySampler>,
    forced: Arc<ForcedSamples>,
    decisions: Arc<TraceDecisions>,
    /// Shared: the recorder is cloned with the application's state for every request.
    naming: Arc<SegmentNaming>,
    /// Traces kept from X-Ray because their id is no X-Ray id of now (`ids::plausible_for_xray`).
    implausible_ids: Arc<LossCounter>,
}

/// What a request asks of X-Ray.
pub struct XrayRequest<'a> {
    pub trace_id: TraceId,
    /// `Sampled=1` / `Sampled=0` from an incoming `X-Amzn-Trace-Id`; None lets the rules decide,
    /// and so does a `Sampled=1` past `ForcedSamples`' limit.
    pub upstream_decision: Option<bool>,
    pub host: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
}

impl XrayRecorder {
    /// Decides whether X-Ray receives this request's trace; returns the response header.
    pub fn begin(&self, request: &XrayRequest) -> HeaderValue {
        let sampled = self.decisions.get_or_decide(request.trace_id, || {
            if !ids::plausible_for_xray(request.trace_id, SystemTime::now()) {
                self.count_implausible_id(request.trace_id);
                return false;
            }
            match request.upstream_decision {
                Some(false) => false,
                Some(true) if self.forced.admit() => true,
                _ => {
                    let service_name = self.naming.name(request.host);
                    self.sampler.sample(&SamplingRequest {
                        service_name: &service_name,
                        host: request.host.unwrap_or_default(),
                        method: request.method,
                        path: request.path,
                    })
                }
            }
        });
        let mut value = String::with_capacity(50);
        value.push_str("Root=");
        value.push_str(&segment::xray_trace_id(request.trace_id));
        value.push_str(if sampled { ";Sampled=1" } else { ";Sampled=0" });
        HeaderValue::from_str(&value).expect("hex digits and separators are a valid header value")
    }

    /// X-Ray's decision for a trace the browser's relayed spans belong to: the one made when a
    /// request of the trace arrived, else the one in `browser_decisions`, taken from
    /// `browser_only`, a budget of the relay's own. Browser-only traces never reach the
    /// sampling rules: anyone can post spans of made-up traces, and they must not spend the
    /// reservoir that guarantees requests their trace a second. Their decisions are kept apart
    /// from the requests', so that posted spans can never push a request's decision out before
    /// its spans are sent.
    pub fn decide_for_browser(
        &self,
        trace_id: TraceId,
        browser_decisions: &TraceDecisions,
        browser_only: &PerSecondLimit,
    ) -> bool {
        if let Some(decided) = self.decisions.get(trace_id) {
            return decided;
        }
        browser_decisions.get_or_decide(trace_id, || {
            if !ids::plausible_for_xray(trace_id, SystemTime::now()) {
                self.count_implausible_id(trace_id);
                return false;
            }
            browser_only.take()
        })
    }

    /// Whether the exporter may send this span: not when its trace's decision was not to.
    /// Spans outside any request have no decision and go on, for the exporter to count them.
    pub fn may_send(&self, span: &SpanData) -> bool {
        self.decisions.get(span.span_context.trace_id()) != Some(false)
    }

    /// A trace continued from a system whose W3C ids don't start with the time: the daemon
    /// would refuse its segments, so X-Ray doesn't get it (OTLP still does). Logged at most
    /// once per interval, so a steady stream of them can't flood the log.
    fn count_implausible_id(&self, trace_id: TraceId) {
        if let Some(report) = self.implausible_ids.add(1) {
            tracing::warn!(
                %trace_id,
                traces = report.since_last_report,
                traces_so_far = report.total,
                "the trace id's first 8 hex digits are not a recent time: X-Ray would refuse \
                 its segments, so the trace goes to OTLP only"
            );
        }
    }
}

/// The trace an incoming `X-Amzn-Trace-Id` continues, and the upstream sampling decision.
/// The context is marked sampled for OpenTelemetry: X-Ray's decision governs X-Ray only. A
/// `Root` without a `Parent` gives a context with the trace id and a zero span id, which the
/// SDK doesn't take as a parent: start the request's span with `ids::start_in_trace`.
pub fn incoming_trace(headers: &HeaderMap) -> Option<(SpanContext, Option<bool>)> {
    let value = headers.get(X_AMZN_TRACE_ID)?.to_str().ok()?;
    let context = opentelemetry_aws::trace::xray_propagator::span_context_from_str(value.trim())?;
    let flags = context.trace_flags();
    let decision = if flags.is_sampled() {
        Some(true)
    } else if flags == TraceFlags::default() {
        Some(false)
    } else {
        None // Sampled=? or absent: the rules decide.
    };
    let context = SpanContext::new(
        context.trace_id(),
        context.span_id(),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    Some((context, decision))
}

/// The exporting half of X-Ray: segments to the daemon, or OTLP to X-Ray's endpoint.
#[derive(Debug)]
pub enum XrayExporter {
    Daemon(SegmentExporter),
    Otlp(SampledOtlpExporter),
}

impl opentelemetry_sdk::trace::SpanExporter for XrayExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        match self {
            XrayExporter::Daemon(exporter) => exporter.export(batch).await,
            XrayExporter::Otlp(exporter) => exporter.export(batch).await,
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        match self {
            XrayExporter::Daemon(exporter) => exporter.set_resource(resource),
            XrayExporter::Otlp(exporter) => exporter.set_resource(resource),
        }
    }
}

/// Builds both halves of X-Ray, sharing the decisions; None when `AWS_XRAY_SDK_ENABLED=false`.
/// The exporter is None when X-Ray's share goes out with every other span already (`destinations`).
pub fn build(
    settings: &XraySettings,
    service_name: &str,
    destinations: &Destinations,
) -> Option<(XrayRecorder, Option<XrayExporter>)> {
    if !settings.enabled {
        return None;
    }
    let naming = SegmentNaming::new(
        settings
            .tracing_name
            .clone()
            .unwrap_or_else(|| service_name.to_owned()),
        settings.dynamic_naming.as_deref(),
    );
    let local_rules = match settings.sampling_rules.as_deref().map(load_local_rules) {
        None => LocalRules::default_rules(),
        Some(Ok(rules)) => rules,
        Some(Err(error)) => {
            // Logging is not installed yet: it needs the tracer this is part of.
            eprintln!(
                "{DEFAULT_SERVICE_NAME}: AWS_XRAY_SAMPLING_RULES ignored ({error}): the default rule applies"
            );
            LocalRules::default_rules()
        }
    };
    let sampler = Arc::new(XraySampler::new(local_rules));
    let decisions = Arc::new(TraceDecisions::new(REMEMBERED_DECISIONS));
    let exporter = match &settings.destination {
        XrayDestination::Daemon => {
            sampler.poll_daemon(&settings.daemon.tcp, PollIntervals::SDK);
            Some(XrayExporter::Daemon(SegmentExporter::new(
                Translator::new(naming.clone()),
                decisions.clone(),
                settings.daemon.udp.clone(),
                settings.context_missing,
            )))
        }
        XrayDestination::Otlp(_) => {
            if let Some(api) = &destinations.sampling_api {
                sampler.poll_api(&api.endpoint, api.signer.clone(), PollIntervals::SDK);
            }
            destinations.xray_share.as_ref().and_then(|destination| {
                SampledOtlpExporter::new(decisions.clone(), destination)
                    .inspect_err(|error| {
                        eprintln!("{DEFAULT_SERVICE_NAME}: spans will not reach X-Ray: {error}");
                    })
                    .ok()
                    .map(XrayExporter::Otlp)
            })
        }
    };
    let recorder = XrayRecorder {
        sampler,
        forced: Arc::new(ForcedSamples::new(settings.forced_samples_per_second)),
        decisions,
        naming: Arc::new(naming),
        implausible_ids: Arc::default(),
    };
    Some((recorder, exporter))
}

/// Rules as JSON text, or the path of a JSON file.
fn load_local_rules(source: &str) -> Result<LocalRules, String> {
    let json = if source.trim_start().starts_with('{') {
        source.to_owned()
    } else {
        std::fs::read_to_string(source).map_err(|error| format!("{source}: {error}"))?
    };
    LocalRules::parse(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_named_after_its_host_keeps_only_what_xray_allows() {
        let naming = SegmentNaming::new("Cruddur<api>".into(), Some("*.cruddur.test*"));
        assert_eq!(naming.name(None), "Cruddur_api_");
        assert_eq!(
            naming.name(Some("api.cruddur.test:4567")),
            "api.cruddur.test:4567"
        );
        assert_eq!(
            naming.name(Some("a!$'(),;~b.cruddur.test")),
            "a________b.cruddur.test"
        );
        let long_host = format!("{}.cruddur.test", "é".repeat(300));
        assert_eq!(naming.name(Some(&long_host)), "é".repeat(200));
        let everything = SegmentNaming::new("Cruddur".into(), Some("*"));
        assert_eq!(everything.name(Some("")), "Cruddur", "never an empty name");
    }

    /// A trace id of now, as X-Ray's and the browser's are.
    fn trace_of_now(tail: u8) -> TraceId {
        let seconds = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        let mut bytes = [tail; 16];
        bytes[..4].copy_from_slice(&seconds.to_be_bytes());
        TraceId::from_bytes(bytes)
    }

    fn recorder(rules: &str, remembered: usize) -> XrayRecorder {
        XrayRecorder {
            sampler: Arc::new(XraySampler::new(LocalRules::parse(rules).unwrap())),
            forced: Arc::new(ForcedSamples::new(0)),
            decisions: Arc::new(TraceDecisions::new(remembered)),
            naming: Arc::new(SegmentNaming::new("Cruddur".into(), None)),
            implausible_ids: Arc::default(),
        }
    }

    fn home(trace_id: TraceId) -> XrayRequest<'static> {
        XrayRequest {
            trace_id,
            upstream_decision: None,
            host: Some("localhost:4567"),
            method: "GET",
            path: "/api/activities/home",
        }
    }

    #[test]
    fn posted_browser_spans_never_push_out_a_requests_decision() {
        let everything = r#"{"version":2,"default":{"fixed_target":0,"rate":1}}"#;
        let recorder = recorder(everything, 2);
        let request = trace_of_now(0);
        recorder.decisions.get_or_decide(request, || false);
        let browser = TraceDecisions::new(2);
        let browser_only = PerSecondLimit::new(100);
        for tail in 1..=10 {
            assert!(recorder.decide_for_browser(trace_of_now(tail), &browser, &browser_only));
        }
        assert_eq!(
            recorder.decisions.get(request),
            Some(false),
            "still remembered"
        );
        assert!(
            !recorder.decide_for_browser(request, &browser, &browser_only),
            "the request's decision is the trace's"
        );
    }

    #[test]
    fn under_a_flood_of_made_up_browser_traces_the_first_request_of_the_second_is_still_sampled() {
        // The reservoir alone: one trace a second, nothing by rate.
        let reservoir_only = r#"{"version":2,"default":{"fixed_target":1,"rate":0}}"#;
        let recorder = recorder(reservoir_only, 64);
        let browser = TraceDecisions::new(64);
        let browser_only = PerSecondLimit::new(1);
        for second in 0..2u8 {
            let flood: usize = (1..=200u8)
                .filter(|tail| {
                    recorder.decide_for_browser(trace_of_now(*tail), &browser, &browser_only)
                })
                .count();
            assert!(flood <= 1, "the browser's own budget: {flood} traces");
            let header = recorder.begin(&home(trace_of_now(0xf0 + second)));
            assert!(
                header.to_str().unwrap().ends_with("Sampled=1"),
                "{header:?} in second {second}"
            );
            // The next wall-clock second, with a fresh reservoir.
            let now = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            std::thread::sleep(std::time::Duration::from_nanos(
                1_000_000_000 - u64::from(now.subsec_nanos()),
            ));
        }
    }
}

/// Spans as the SDK hands them to exporters, for the translator's and exporter's tests.
#[cfg(test)]
pub(crate) mod test_spans {
    use std::time::SystemTime;

    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

    pub const TRACE: &str = "6921a1b2c3d4e5f60718293a4b5c6d7e";

    pub fn span(id: u64, parent: u64, kind: SpanKind, attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex(TRACE).unwrap(),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: kind,
            name: format!("step-{id}").into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }
}
