//! AWS X-Ray from the same spans that go to OpenTelemetry: one trace id for both (X-Ray's form:
//! the first 8 hex digits are Unix seconds), a segment per request and a subsegment per span
//! in it, sent to the X-Ray daemon over UDP for the traces X-Ray sampling picks.
//!
//! From opentelemetry-aws: the `X-Amzn-Trace-Id` parser. Written here, each saying why: the
//! id generator, sampling, the segment translation, and the daemon client.

mod exporter;
pub mod ids;
pub mod sampling;
pub mod segment;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, TraceFlags, TraceId};
use opentelemetry_sdk::trace::SpanData;
use wildmatch::WildMatch;

pub use exporter::XrayExporter;
use sampling::{ForcedSamples, LocalRules, PollIntervals, SamplingRequest, XraySampler};
use segment::Translator;

use crate::configuration::{DEFAULT_SERVICE_NAME, XraySettings};
use crate::sync;
use crate::telemetry::losses::LossCounter;

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

/// Each trace's X-Ray sampling decision, made when its first request arrives and read when
/// its spans are exported. Bounded: the oldest decisions go first.
#[derive(Debug)]
pub struct TraceDecisions {
    capacity: usize,
    inner: Mutex<(HashMap<TraceId, bool>, VecDeque<TraceId>)>,
}

impl TraceDecisions {
    fn new(capacity: usize) -> Self {
        TraceDecisions {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, trace_id: TraceId) -> Option<bool> {
        let inner = sync::lock(&self.inner);
        inner.0.get(&trace_id).copied()
    }

    /// The decision already made for the trace, or `decide()` now.
    fn get_or_decide(&self, trace_id: TraceId, decide: impl FnOnce() -> bool) -> bool {
        if let Some(decided) = self.get(trace_id) {
            return decided;
        }
        let sampled = decide();
        let mut inner = sync::lock(&self.inner);
        let (decisions, order) = &mut *inner;
        if decisions.insert(trace_id, sampled).is_none() {
            order.push_back(trace_id);
            while order.len() > self.capacity {
                if let Some(oldest) = order.pop_front() {
                    decisions.remove(&oldest);
                }
            }
        }
        sampled
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

/// Builds both halves of X-Ray, sharing the decisions; None when `AWS_XRAY_SDK_ENABLED=false`.
pub fn build(settings: &XraySettings, service_name: &str) -> Option<(XrayRecorder, XrayExporter)> {
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
    sampler.poll_daemon(&settings.daemon.tcp, PollIntervals::SDK);
    let decisions = Arc::new(TraceDecisions::new(REMEMBERED_DECISIONS));
    let exporter = XrayExporter::new(
        Translator::new(naming.clone()),
        decisions.clone(),
        settings.daemon.udp.clone(),
        settings.context_missing,
    );
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
