//! The relay's share for X-Ray (`CRUDDUR_XRAY_EXPORTER=otlp`): the browser's spans of the
//! traces X-Ray samples, sent on to X-Ray's OTLP endpoint under the frontend's resource, so
//! that X-Ray's trace shows click → fetch → server.
//!
//! The decisions are the backend's own (`TraceDecisions`: bounded, the oldest forgotten
//! first). A browser's span of a trace no request has decided (a `documentLoad`) is decided
//! by the same rules, for the frontend's service, and remembered in a bounded map of the
//! relay's own: anyone can post spans of made-up traces, and they must not push the requests'
//! decisions out. A browser span that overtakes its own request (its fetch ends after the
//! response, so it never should) is decided apart from it.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::trace::TraceId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::counters::Counters;
use super::forward::{Forwarder, Queued, Route};
use crate::configuration::{OtlpHeaders, OtlpProtocol};
use crate::telemetry::xray::otlp::{XRAY_COMPRESSION, XrayOtlpRoute};
use crate::telemetry::xray::{TraceDecisions, XrayRecorder};

/// What the relay needs to send X-Ray its share.
pub struct RelayToXray {
    pub route: XrayOtlpRoute,
    /// The backend's X-Ray decisions, and its rules for traces without one.
    pub recorder: XrayRecorder,
}

/// How many browser-only traces' decisions are remembered, so that a page's spans sent in
/// several exports are decided alike.
const REMEMBERED_BROWSER_DECISIONS: usize = 4096;

pub(super) struct XrayShare {
    forwarder: Forwarder,
    recorder: XrayRecorder,
    browser_decisions: TraceDecisions,
    /// What reached X-Ray and what did not; apart from the relay's own counts.
    pub(super) counters: Arc<Counters>,
    frontend_service_name: String,
}

impl XrayShare {
    /// Starts the forwarder on the runtime; X-Ray gets none of the OTLP endpoint's headers.
    pub(super) fn start(to: RelayToXray, frontend_service_name: String) -> Self {
        let counters = Arc::new(Counters::default());
        XrayShare {
            forwarder: Forwarder::start(
                Route {
                    endpoint: to.route.endpoint,
                    protocol: OtlpProtocol::HttpProtobuf,
                    compression: XRAY_COMPRESSION,
                    headers: OtlpHeaders::default(),
                    auth: Some(to.route.auth),
                },
                counters.clone(),
            ),
            recorder: to.recorder,
            browser_decisions: TraceDecisions::new(REMEMBERED_BROWSER_DECISIONS),
            counters,
            frontend_service_name,
        }
    }

    /// Queues the export's spans of sampled traces; what the queue can't take is counted as
    /// not delivered. The browser's export was accepted either way.
    pub(super) fn offer(&self, export: &ExportTraceServiceRequest) {
        let Some((sampled, spans)) = sampled_part(export, |trace_id| {
            self.recorder.decide_for_browser(
                trace_id,
                &self.frontend_service_name,
                &self.browser_decisions,
            )
        }) else {
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

/// The spans of `export` whose trace `sampled` keeps, under their own resource and scope,
/// with their count; None when there are none. Each trace is asked once per export.
fn sampled_part(
    export: &ExportTraceServiceRequest,
    mut sampled: impl FnMut(TraceId) -> bool,
) -> Option<(ExportTraceServiceRequest, usize)> {
    let mut decided: HashMap<[u8; 16], bool> = HashMap::new();
    let mut keep = |trace_id: &[u8]| {
        let Ok(trace_id) = <[u8; 16]>::try_from(trace_id) else {
            return false;
        };
        *decided
            .entry(trace_id)
            .or_insert_with(|| sampled(TraceId::from_bytes(trace_id)))
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
    fn only_the_spans_of_sampled_traces_are_kept_each_trace_asked_once() {
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
        let mut asked = Vec::new();
        let (kept, count) = sampled_part(&export, |trace_id| {
            asked.push(trace_id);
            trace_id == TraceId::from_bytes([1; 16])
        })
        .unwrap();
        assert_eq!(count, 2);
        assert_eq!(asked.len(), 2, "once per trace");
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
