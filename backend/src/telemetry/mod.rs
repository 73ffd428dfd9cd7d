//! Logs and traces: `tracing` spans everywhere in the code, shown on stderr as readable logs
//! and, through tracing-opentelemetry, exported as OpenTelemetry spans over OTLP (HTTP or
//! gRPC) from a batch processor that runs on its own thread, never on the request path.
//!
//! The backend's own spans live below: the request (server) spans, W3C propagation, the
//! traced outbound client, the fan-out to the exporters (OTLP, X-Ray), where they send
//! (`destinations`), and X-Ray. The relay and the trace view are areas of their own, which
//! use what is here; nothing here knows them.

pub mod aws_signing;
pub mod destinations;
pub mod fan_out;
pub mod otlp;
pub mod outbound;
pub mod propagation;
pub mod request_tracing;
pub mod settings;
pub mod xray;

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanExporter,
};
use opentelemetry_semantic_conventions::resource::SERVICE_NAME;
use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{FilterExt, Targets, filter_fn};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::redact;
use destinations::Destinations;
use fan_out::SpanFanOut;
use otlp::{CountedExporter, Delivery};
use settings::TelemetrySettings;
use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;
use xray::XrayRecorder;
use xray::settings::XrayDestination;

/// What the application needs from telemetry to serve requests; all off by default.
#[derive(Clone, Default)]
pub struct Handles {
    /// The request side of X-Ray, unless X-Ray or the SDK is disabled.
    pub xray: Option<XrayRecorder>,
    /// Where spans go, for the relay to send the browser's to the same places.
    pub destinations: Destinations,
}

/// Keeps the tracer provider alive; dropping it flushes every queued span and stops the exporters.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    handles: Handles,
}

impl TelemetryGuard {
    pub fn handles(&self) -> Handles {
        self.handles.clone()
    }
}

/// How long the exporters may take to send what is queued when the process exits: bounded,
/// so an unreachable endpoint can't hold the exit past Docker's grace period.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(3);

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_DEADLINE)
        {
            tracing::warn!(%error, "could not flush every span before exiting");
        }
    }
}

/// Installs the global subscriber and propagator. `watched` is an exporter someone watches
/// as spans arrive (the local trace view's store), batched more often than the others. Call
/// once, inside the tokio runtime (X-Ray's sampling poller and the gRPC exporter's channel run
/// on it), before anything logs.
pub fn init(
    settings: &TelemetrySettings,
    watched: Option<impl SpanExporter + 'static>,
) -> TelemetryGuard {
    install_propagator();
    let destinations = Destinations::plan(settings);
    let (provider, xray) = if settings.sdk_disabled {
        (None, None)
    } else {
        let (provider, xray) = tracer_provider(settings, watched, &destinations);
        (Some(provider), xray)
    };
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(DEFAULT_SERVICE_NAME))
            .with_threads(false)
            .with_tracked_inactivity(false)
            // Parents come from tracing's own span tree: attaching an OpenTelemetry context on
            // every poll of every span would cost each request for nothing that reads it.
            .with_context_activation(false)
            .with_filter(exported_spans())
    });
    let log_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(without_signing_traces(
            EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .from_env_lossy(),
        ));
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(log_layer)
        .init();

    announce_destination(settings);
    destinations.start(settings);
    if xray.is_some() && settings.xray.destination == XrayDestination::Daemon {
        let daemon = &settings.xray.daemon;
        tracing::info!(udp = %daemon.udp, tcp = %daemon.tcp, "X-Ray segments of sampled traces go to the daemon");
    }
    TelemetryGuard {
        provider,
        handles: Handles { xray, destinations },
    }
}

/// The signing library traces each canonical request, session token included: never logged,
/// whatever `RUST_LOG` asks.
fn without_signing_traces(filter: EnvFilter) -> EnvFilter {
    [
        "aws_sigv4=info",
        "aws_smithy_runtime=info",
        "aws_smithy_http_client=info",
    ]
    .into_iter()
    .filter_map(|directive| directive.parse().ok())
    .fold(filter, EnvFilter::add_directive)
}

/// W3C Trace Context and Baggage, in and out.
fn install_propagator() {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(propagation::W3cTraceContext),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// What becomes OpenTelemetry data: the application's spans, whatever `RUST_LOG` says, and its
/// warnings and errors as span events; never the exporter's own HTTP traffic or the SDK's
/// diagnostics. Routine log lines (one per request) stay out of the spans: they repeat what
/// the span already says and would cost every request an event.
fn exported_spans() -> impl Filter<Registry> {
    let warnings_and_spans =
        filter_fn(|metadata| metadata.is_span() || *metadata.level() <= Level::WARN);
    let application = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
        .with_target("opentelemetry_http", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("opentelemetry_aws", LevelFilter::OFF)
        .with_target("aws_config", LevelFilter::OFF)
        .with_target("aws_credential_types", LevelFilter::OFF)
        .with_target("aws_sdk_sts", LevelFilter::OFF)
        .with_target("aws_sigv4", LevelFilter::OFF)
        .with_target("aws_smithy_runtime", LevelFilter::OFF)
        .with_target("aws_smithy_http_client", LevelFilter::OFF);
    warnings_and_spans.and(application)
}

fn tracer_provider(
    settings: &TelemetrySettings,
    watched: Option<impl SpanExporter + 'static>,
    destinations: &Destinations,
) -> (SdkTracerProvider, Option<XrayRecorder>) {
    let service_name = service_name();
    // The builder's default configuration reads OTEL_TRACES_SAMPLER(_ARG) and the span limits.
    // X-Ray ids (Unix seconds first) are valid W3C ids too, so one id finds a request in both.
    let builder = SdkTracerProvider::builder()
        .with_resource(resource(&service_name))
        .with_id_generator(xray::ids::ContinuingIdGenerator::default());
    // Each exporter has its own batch queue (OTEL_BSP_*), bounded, so a dead or slow endpoint
    // costs dropped spans, never memory or request time, and never delays the other. They all
    // sit behind the value length limit, so each gets spans already held to it.
    let mut processors = SpanFanOut::new(settings.attribute_value_length_limit);
    if let Some(exporter) = otlp_exporter(settings, destinations) {
        processors = processors.with_processor(BatchSpanProcessor::builder(exporter).build());
    }
    if let Some(watched) = watched {
        // Someone is watching the trace view: half a second, not the OTLP default of five.
        let config = BatchConfigBuilder::default()
            .with_scheduled_delay(Duration::from_millis(500))
            .build();
        processors = processors.with_processor(
            BatchSpanProcessor::builder(watched)
                .with_batch_config(config)
                .build(),
        );
    }
    let xray = match xray::build(&settings.xray, &service_name, destinations) {
        Some((recorder, exporter)) => {
            if let Some(exporter) = exporter {
                // Only the spans X-Ray may send are copied and queued for it.
                let sends = recorder.clone();
                processors = processors.with_processor_for(
                    BatchSpanProcessor::builder(exporter).build(),
                    move |span| sends.may_send(span),
                );
            }
            Some(recorder)
        }
        None => None,
    };
    (builder.with_span_processor(processors).build(), xray)
}

/// The exporter to the OTLP traces endpoint, when one is set and usable.
fn otlp_exporter(
    settings: &TelemetrySettings,
    destinations: &Destinations,
) -> Option<CountedExporter> {
    CountedExporter::new(
        destinations.traces.as_ref()?,
        Delivery {
            timeout: settings.export_timeout,
            retries: true,
            spans_for: "spans",
            refusal_hint: None,
        },
    )
    .inspect_err(|error| eprintln!("{DEFAULT_SERVICE_NAME}: spans will not be exported: {error}"))
    .ok()
}

/// `OTEL_SERVICE_NAME`, else `service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else `cruddur-backend`.
pub(crate) fn service_name() -> String {
    Resource::builder()
        .build()
        .get(&SERVICE_NAME.into())
        .map(|name| name.to_string())
        .filter(|name| !name.starts_with("unknown_service"))
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned())
}

/// The service name plus every other attribute from `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(service_name: &str) -> Resource {
    Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attribute(KeyValue::new("telemetry.distro.name", "cruddur"))
        .build()
}

/// Says once where spans go. Header values are secrets (Honeycomb's key travels in one), so
/// only their names are shown.
fn announce_destination(settings: &TelemetrySettings) {
    if settings.sdk_disabled {
        tracing::info!("OTEL_SDK_DISABLED=true: no spans are recorded or exported");
        return;
    }
    let Some(endpoint) = &settings.traces_endpoint else {
        tracing::info!(
            "no OTLP endpoint is set: spans are not exported \
             (set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. https://api.honeycomb.io)"
        );
        return;
    };
    tracing::info!(
        endpoint = %redact::url_text(endpoint),
        protocol = settings.protocol.as_str(),
        compression = settings.compression.as_str(),
        headers = %settings.headers.names(),
        "exporting spans over OTLP"
    );
}

#[cfg(test)]
pub(crate) mod testing {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing::subscriber::DefaultGuard;
    use tracing_subscriber::layer::SubscriberExt;

    /// Installs a subscriber whose spans end up in the returned exporter until the guard drops.
    /// Works with `#[tokio::test]`'s single-threaded runtime, where every task runs on this thread.
    pub fn capture_spans() -> (InMemorySpanExporter, DefaultGuard) {
        super::install_propagator();
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        (exporter, tracing::subscriber::set_default(subscriber))
    }
}
