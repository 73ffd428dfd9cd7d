//! One request's server span, from creation to the OTLP request body opentelemetry-otlp sends,
//! in ns per span and bytes per span: made through `tracing` and the OpenTelemetry bridge with
//! the attributes the request middleware sets, held to the value length limit, batched as the
//! batch processor does (512 a batch), and exported by the crate's HTTP exporter, uncompressed,
//! gzip and zstd, to a client that keeps only the body's size. Run with
//! `cargo bench -p backend --bench span_to_otlp`; CI only builds it.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backend::telemetry::fan_out::SpanFanOut;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SdkTracerProvider, Span, SpanData, SpanExporter as _, SpanProcessor,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// The batch processor's default batch.
const BATCH: usize = 512;

/// Answers every export at once, keeping only how many bytes went out.
#[derive(Debug, Default, Clone)]
struct Discard {
    bytes: Arc<AtomicUsize>,
}

#[async_trait]
impl HttpClient for Discard {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.bytes
            .fetch_add(black_box(request.body()).len(), Ordering::Relaxed);
        Ok(Response::builder().status(200).body(Bytes::new())?)
    }
}

/// Exports every full batch through opentelemetry-otlp, on the calling thread.
#[derive(Debug)]
struct ExportBatches {
    exporter: opentelemetry_otlp::SpanExporter,
    batch: Mutex<Vec<SpanData>>,
    runtime: tokio::runtime::Runtime,
}

impl SpanProcessor for ExportBatches {
    fn on_start(&self, _span: &mut Span, _context: &Context) {}

    fn on_end(&self, span: SpanData) {
        let full = {
            let mut batch = self.batch.lock().unwrap();
            batch.push(span);
            (batch.len() == BATCH).then(|| std::mem::take(&mut *batch))
        };
        if let Some(full) = full {
            self.runtime.block_on(self.exporter.export(full)).unwrap();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
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
    for (compression, label) in [
        (None, "uncompressed"),
        (Some(Compression::Gzip), "gzip"),
        (Some(Compression::Zstd), "zstd"),
    ] {
        measure(compression, label);
    }
}

fn measure(compression: Option<Compression>, label: &str) {
    let client = Discard::default();
    let bytes = client.bytes.clone();
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint("http://127.0.0.1:4318/v1/traces")
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client);
    if let Some(compression) = compression {
        exporter = exporter.with_compression(compression);
    }
    let processor = ExportBatches {
        exporter: exporter.build().unwrap(),
        batch: Mutex::new(Vec::with_capacity(BATCH)),
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(SpanFanOut::new(4096).with_processor(processor))
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
        const SPANS: u32 = 51_200;
        for _ in 0..SPANS / 10 {
            request_span();
        }
        let mut rounds: Vec<(f64, f64)> = (0..5)
            .map(|_| {
                bytes.store(0, Ordering::Relaxed);
                let started = Instant::now();
                for _ in 0..SPANS {
                    request_span();
                }
                let nanos = started.elapsed().as_nanos() as f64 / f64::from(SPANS);
                let sent = bytes.load(Ordering::Relaxed) as f64 / f64::from(SPANS);
                (nanos, sent)
            })
            .collect();
        rounds.sort_by(|left, right| left.0.total_cmp(&right.0));
        println!(
            "one server span, created to the OTLP/HTTP body opentelemetry-otlp sends, {label}: \
             {:.0} ns (median of 5 rounds of {SPANS}; fastest {:.0} ns), {:.0} bytes a span \
             in batches of {BATCH}",
            rounds[2].0, rounds[0].0, rounds[2].1
        );
    });
}
