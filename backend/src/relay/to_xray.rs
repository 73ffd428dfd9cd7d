//! The relay's share for X-Ray (`CRUDDUR_XRAY_EXPORTER=otlp`): the browser's spans of the
//! traces X-Ray samples, sent on to X-Ray's OTLP endpoint under the frontend's resource, so
//! that X-Ray's trace shows click → fetch → server.
//!
//! The decisions are the backend's own (`TraceDecisions`: bounded, the oldest forgotten
//! first). A browser's span of a trace no request has decided (a `documentLoad`) is a
//! browser-only trace: anyone can post spans of made-up traces, so those take
//! `BROWSER_ONLY_TRACES_PER_SECOND` of a budget of their own, never the sampling rules'
//! reservoir, which is the requests' guaranteed trace a second. Their decisions are remembered
//! in a bounded map of the relay's own, so that they can't push the requests' decisions out.
//! A browser span that overtakes its own request (its fetch ends after the response, so it
//! never should) is decided apart from it.
//!
//! A trace's id is in every response's `X-Amzn-Trace-Id`, so a client can post spans into a
//! trace X-Ray sampled: at most `MAX_SPANS_PER_TRACE` of them go to X-Ray per trace, and at
//! most `MAX_SPANS_PER_SECOND` for all traces together. The rest are counted as not delivered
//! and logged with the relay's other losses.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::trace::TraceId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::counters::Counters;
use super::forward::{Forwarder, Queued};
use crate::telemetry::destinations::Destination;
use crate::telemetry::xray::{PerSecondLimit, TraceDecisions, TraceMemory, XrayRecorder};

/// What the relay needs to send X-Ray its share.
pub struct RelayToXray {
    /// X-Ray's OTLP endpoint, as telemetry planned it: none of the OTLP endpoint's headers.
    pub destination: Destination,
    /// The backend's X-Ray decisions, and its rules for traces without one.
    pub recorder: XrayRecorder,
}

/// How many browser-only traces' decisions are remembered, so that a page's spans sent in
/// several exports are decided alike; and how many sampled traces' relayed spans are counted.
const REMEMBERED_BROWSER_TRACES: usize = 4096;
/// Browser-only traces X-Ray gets a second: a page load's trace now and then, and a client
/// posting made-up traces gets no more than that.
const BROWSER_ONLY_TRACES_PER_SECOND: u64 = 1;
/// A page's spans in one trace are a few dozen; a trace past this is being filled by hand.
const MAX_SPANS_PER_TRACE: u32 = 512;
/// Relayed spans X-Ray gets a second, for every trace together.
const MAX_SPANS_PER_SECOND: u64 = 1_000;

pub(super) struct XrayShare {
    forwarder: Forwarder,
    recorder: XrayRecorder,
    browser_decisions: TraceDecisions,
    browser_only: PerSecondLimit,
    caps: SpanCaps,
    /// What reached X-Ray and what did not; apart from the relay's own counts.
    pub(super) counters: Arc<Counters>,
}

impl XrayShare {
    /// Starts the forwarder on the runtime.
    pub(super) fn start(to: RelayToXray) -> Self {
        let counters = Arc::new(Counters::default());
        XrayShare {
            forwarder: Forwarder::start(to.destination, counters.clone()),
            recorder: to.recorder,
            browser_decisions: TraceDecisions::new(REMEMBERED_BROWSER_TRACES),
            browser_only: PerSecondLimit::new(BROWSER_ONLY_TRACES_PER_SECOND),
            caps: SpanCaps::new(MAX_SPANS_PER_TRACE, MAX_SPANS_PER_SECOND),
            counters,
        }
    }

    /// Queues the export's spans of sampled traces, within the caps; what the caps or the
    /// queue can't take is counted as not delivered. The browser's export was accepted either
    /// way.
    pub(super) fn offer(&self, export: &ExportTraceServiceRequest) {
        let mut sampled: HashMap<TraceId, bool> = HashMap::new();
        let mut over_caps = 0;
        let part = sampled_part(export, |trace_id| {
            let decided = *sampled.entry(trace_id).or_insert_with(|| {
                self.recorder.decide_for_browser(
                    trace_id,
                    &self.browser_decisions,
                    &self.browser_only,
                )
            });
            let admitted = decided && self.caps.admit(trace_id);
            if decided && !admitted {
                over_caps += 1;
            }
            admitted
        });
        if over_caps > 0 {
            self.counters.not_delivered(over_caps);
        }
        let Some((sampled, spans)) = part else {
            return;
        };
        let Ok(body) = self.forwarder.encode(&sampled) else {
            return self.counters.not_delivered(spans);
        };
        if self.forwarder.try_enqueue(Queued { body, spans }).is_err() {
            self.counters.not_delivered(spans);
        }
    }

    pub(super) fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }
}

/// How many relayed spans X-Ray gets per trace and per second.
struct SpanCaps {
    sent_per_trace: TraceMemory<u32>,
    per_trace: u32,
    per_second: PerSecondLimit,
}

impl SpanCaps {
    fn new(per_trace: u32, per_second: u64) -> Self {
        SpanCaps {
            sent_per_trace: TraceMemory::new(REMEMBERED_BROWSER_TRACES),
            per_trace,
            per_second: PerSecondLimit::new(per_second),
        }
    }

    /// Takes one span from its trace's cap and then from this second's.
    fn admit(&self, trace_id: TraceId) -> bool {
        let in_trace = self.sent_per_trace.update(trace_id, 0, |sent| {
            let room = *sent < self.per_trace;
            if room {
                *sent += 1;
            }
            room
        });
        in_trace && self.per_second.take()
    }
}

/// The spans of `export` that `keep` keeps (asked once per span, in order), under their own
/// resource and scope, with their count; None when there are none. Spans without a trace id
/// are never kept.
fn sampled_part(
    export: &ExportTraceServiceRequest,
    mut keep_span: impl FnMut(TraceId) -> bool,
) -> Option<(ExportTraceServiceRequest, usize)> {
    let mut keep = |trace_id: &[u8]| {
        <[u8; 16]>::try_from(trace_id)
            .is_ok_and(|trace_id| keep_span(TraceId::from_bytes(trace_id)))
    };
    let mut count = 0;
    let resource_spans: Vec<ResourceSpans> = export
        .resource_spans
        .iter()
        .filter_map(|resource_spans| {
            let scope_spans: Vec<ScopeSpans> = resource_spans
                .scope_spans
                .iter()
                .filter_map(|scope_spans| {
                    let spans: Vec<_> = scope_spans
                        .spans
                        .iter()
                        .filter(|span| keep(&span.trace_id))
                        .cloned()
                        .collect();
                    count += spans.len();
                    (!spans.is_empty()).then(|| ScopeSpans {
                        scope: scope_spans.scope.clone(),
                        spans,
                        schema_url: scope_spans.schema_url.clone(),
                    })
                })
                .collect();
            (!scope_spans.is_empty()).then(|| ResourceSpans {
                resource: resource_spans.resource.clone(),
                scope_spans,
                schema_url: resource_spans.schema_url.clone(),
            })
        })
        .collect();
    (count > 0).then_some((ExportTraceServiceRequest { resource_spans }, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            ..Default::default()
        }
    }

    #[test]
    fn spans_posted_into_a_sampled_trace_are_capped_per_trace_and_per_second() {
        let caps = SpanCaps::new(3, 5);
        let trace = |tail: u8| TraceId::from_bytes([tail; 16]);
        let first: Vec<bool> = (0..5).map(|_| caps.admit(trace(1))).collect();
        assert_eq!(first, [true, true, true, false, false], "three per trace");
        let others = (2..=6).filter(|tail| caps.admit(trace(*tail))).count();
        assert!(
            others <= 2,
            "five a second for every trace together: {others} more passed"
        );
    }

    #[test]
    fn only_the_spans_kept_are_sent_under_their_resource() {
        let export = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![
                    ScopeSpans {
                        spans: vec![span(1, 1), span(2, 2), span(1, 3)],
                        ..Default::default()
                    },
                    ScopeSpans {
                        spans: vec![span(2, 4)],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        };
        let mut asked = 0;
        let (kept, count) = sampled_part(&export, |trace_id| {
            asked += 1;
            trace_id == TraceId::from_bytes([1; 16])
        })
        .unwrap();
        assert_eq!(count, 2);
        assert_eq!(asked, 4, "once per span");
        let ids: Vec<u8> = kept.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|scope| scope.spans.iter().map(|span| span.span_id[0]))
            .collect();
        assert_eq!(ids, [1, 3], "the scope without any is left out");
        assert!(
            kept.resource_spans[0].resource.is_some(),
            "the frontend's resource"
        );

        assert!(sampled_part(&export, |_| false).is_none());
        let malformed = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert!(
            sampled_part(&malformed, |_| true).is_none(),
            "no trace, no X-Ray"
        );
    }
}
