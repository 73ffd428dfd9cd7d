//! X-Ray without the daemon: the spans of the traces X-Ray sampling keeps, as OTLP/HTTP
//! protobuf, to X-Ray's traces endpoint (`https://xray.<region>.amazonaws.com/v1/traces`,
//! which needs CloudWatch Transaction Search), signed with SigV4 or carrying an API key.
//!
//! The same exporter as the OTLP traces endpoint's (opentelemetry-otlp), through a client that
//! sends none of the `OTEL_EXPORTER_OTLP_HEADERS` (Honeycomb's key among them), and without
//! retries. A refusal (a 403 for a missing permission, or Transaction Search not turned on)
//! costs the batch, counted and logged at most once per interval. Exports are gzip-compressed:
//! `docs/telemetry.md` gives the measurements that decided it.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::TraceDecisions;
use crate::telemetry::destinations::Destination;
use crate::telemetry::otlp::{CountedExporter, Delivery};

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// X-Ray without the daemon: the spans of sampled traces, over OTLP to X-Ray's endpoint.
pub struct SampledOtlpExporter {
    decisions: Arc<TraceDecisions>,
    otlp: CountedExporter,
}

impl std::fmt::Debug for SampledOtlpExporter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SampledOtlpExporter")
            .field("otlp", &self.otlp)
            .finish_non_exhaustive()
    }
}

impl SampledOtlpExporter {
    pub(super) fn new(
        decisions: Arc<TraceDecisions>,
        destination: &Destination,
    ) -> Result<Self, String> {
        let otlp = CountedExporter::new(
            destination,
            Delivery {
                timeout: EXPORT_TIMEOUT,
                retries: false,
                spans_for: "spans for X-Ray",
                refusal_hint: Some(
                    "the role lacks permission to write traces, the signature or key was \
                     refused, or Transaction Search is off (aws/setup.sh turns it on)",
                ),
            },
        )?;
        Ok(SampledOtlpExporter { decisions, otlp })
    }
}

impl SpanExporter for SampledOtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Spans without a decision were made outside any request: X-Ray has no trace for them.
        let sampled: Vec<SpanData> = batch
            .into_iter()
            .filter(|span| self.decisions.get(span.span_context.trace_id()) == Some(true))
            .collect();
        self.otlp.send(sampled).await;
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.otlp.set_resource(resource);
    }
}
