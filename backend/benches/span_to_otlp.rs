//! One request's server span, from creation to encoded OTLP protobuf bytes, in ns: made through
//! `tracing` and the OpenTelemetry bridge with the attributes the request middleware sets, held
//! to the value length limit, and encoded by the backend's OTLP exporter; beside it, the same
//! through opentelemetry-proto's conversion and prost, as opentelemetry-otlp encodes. Run with
//! `cargo bench -p backend --bench span_to_otlp`; CI only builds it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backend::telemetry::attribute_limit::ValueLengthLimit;
use backend::telemetry::otlp::encode::{EncodedResource, export_request};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use opentelemetry_semantic_conventions::attribute as semconv;
use prost::Message;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Encodes each span as it ends, alone, the way a batch of one would be.
#[derive(Debug)]
struct EncodeEach {
    encoder: Encoder,
    resource: EncodedResource,
    proto_resource: ResourceAttributesWithSchema,
}

#[derive(Debug, Clone, Copy)]
enum Encoder {
    Ours,
    OpentelemetryProto,
}

impl SpanProcessor for EncodeEach {
    fn on_start(&self, _span: &mut Span, _context: &Context) {}

    fn on_end(&self, span: SpanData) {
        match self.encoder {
            Encoder::Ours => black_box(export_request(&[span], &self.resource)),
            Encoder::OpentelemetryProto => black_box(
                ExportTraceServiceRequest {
                    resource_spans: group_spans_by_resource_and_scope(
                        vec![span],
                        &self.proto_resource,
                    ),
                }
                .encode_to_vec(),
            ),
        };
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
        self.proto_resource = resource.into();
    }
}

/// The server span of `GET /api/activities/home` as the request middleware makes it
/// (`telemetry::request_tracing`): its attributes recorded as it is made, the trace id and the
/// response's attributes after.
fn request_span() {
    let span = tracing::info_span!(
        "request",
        otel.name = "GET /api/activities/home",
        otel.kind = "server",
        trace_id = tracing::field::Empty,
        http.request.method = "GET",
        http.route = "/api/activities/home",
        url.path = "/api/activities/home",
        url.scheme = "http",
        server.address = "127.0.0.1",
        server.port = 4567_i64,
        client.address = "127.0.0.1",
        network.peer.address = "127.0.0.1",
        network.protocol.version = "1.1",
    );
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", trace_id.to_string().as_str());
    span.set_attribute(semconv::HTTP_RESPONSE_STATUS_CODE, 200);
    span.set_attribute("http.response.body.size", 1024);
}

fn main() {
    for (encoder, label) in [
        (Encoder::Ours, "the backend's encoder"),
        (Encoder::OpentelemetryProto, "opentelemetry-proto + prost"),
    ] {
        measure(encoder, label);
    }
}

fn measure(encoder: Encoder, label: &str) {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(ValueLengthLimit::new(4096).with_processor(EncodeEach {
            encoder,
            resource: EncodedResource::default(),
            proto_resource: ResourceAttributesWithSchema::default(),
        }))
        .with_resource(Resource::builder().with_service_name("bench").build())
        .build();
    let tracer = provider.tracer_with_scope(InstrumentationScope::builder("bench").build());
    // The bridge as `telemetry::init` configures it.
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false),
    );
    tracing::subscriber::with_default(subscriber, || {
        const SPANS: u32 = 100_000;
        for _ in 0..SPANS / 10 {
            request_span();
        }
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..SPANS {
                    request_span();
                }
                started.elapsed().as_nanos() as f64 / f64::from(SPANS)
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "one server span, created to encoded OTLP bytes, {label}: {:.0} ns (median of 5 rounds of {SPANS}; fastest {:.0} ns)",
            rounds[2], rounds[0]
        );
    });
}
