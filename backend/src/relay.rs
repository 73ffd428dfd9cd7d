//! POST /v1/traces: the browser's spans (OTLP/HTTP, JSON or protobuf), checked and relayed to
//! the backend's own OTLP destination with the server-side headers, so that no key (Honeycomb's
//! included) ever reaches the browser. It sends nowhere but the configured endpoint, and keeps
//! them in the local trace view's store beside the backend's own.

mod budget;
mod counters;
mod forward;
pub mod limits;
pub mod settings;
mod to_xray;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use shared::ErrorCode;
use tokio::sync::Semaphore;

pub use budget::RelayBudgets;
pub use counters::RelayCounts;
pub use to_xray::RelayToXray;

use crate::clients::address::TrustedProxies;
use crate::error::ApiError;
use crate::telemetry::destinations::Destination;
use crate::trace_view::store::TraceStore;
use budget::{Budgets, OverBudget};
use counters::{Counters, Refusal};
use forward::{Forwarder, JSON, PROTOBUF, Queued};
use limits::{OtlpLimits, count_json_spans, count_protobuf_spans, enforce};
use to_xray::XrayShare;

/// A browser's batch is a few KB; anything this large is not one.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// How often idle clients are forgotten and the counters looked at for a log line.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(60);

/// What the relay is started with.
pub struct RelayConfig {
    /// The backend's own OTLP traces endpoint, as telemetry planned it (protocol, compression,
    /// headers, and how it authenticates when it is X-Ray's own); None: relayed spans are only
    /// kept locally.
    pub destination: Option<Destination>,
    /// X-Ray without the daemon: the browser's spans of sampled traces go there too.
    pub xray: Option<RelayToXray>,
    /// The `service.name` every relayed resource is given.
    pub frontend_service_name: String,
    pub budgets: RelayBudgets,
    pub trusted_proxies: TrustedProxies,
    /// The local trace view's store, which keeps the browser's spans beside the backend's.
    pub local_traces: Option<Arc<TraceStore>>,
}

#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    forwarder: Option<Forwarder>,
    xray: Option<XrayShare>,
    budgets: Budgets,
    counters: Arc<Counters>,
    limits: OtlpLimits,
    frontend_service_name: String,
    trusted_proxies: TrustedProxies,
    local_traces: Option<Arc<TraceStore>>,
    /// Decoding is the one costly step: at most one per core at a time, off the async workers,
    /// so a flood of exports waits rather than multiplies its memory.
    decoding: Semaphore,
}

impl Relay {
    /// Starts the forwarder and the housekeeping on the runtime.
    pub fn start(config: RelayConfig) -> Relay {
        let counters = Arc::new(Counters::default());
        let forwarder = config
            .destination
            .map(|destination| Forwarder::start(destination, counters.clone()));
        let xray = config.xray.map(XrayShare::start);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let relay = Relay {
            inner: Arc::new(Inner {
                forwarder,
                xray,
                budgets: Budgets::new(&config.budgets),
                counters,
                limits: OtlpLimits::default(),
                frontend_service_name: config.frontend_service_name,
                trusted_proxies: config.trusted_proxies,
                local_traces: config.local_traces,
                decoding: Semaphore::new(cores),
            }),
        };
        tokio::spawn(housekeeping(Arc::downgrade(&relay.inner)));
        relay
    }

    /// What the relay accepted, refused and lost since it started.
    pub fn counts(&self) -> RelayCounts {
        self.inner.counters.snapshot()
    }

    /// At shutdown, after the server stopped: sends what is queued within `deadline`, then
    /// logs the counts if anything was refused or lost.
    pub async fn drain(&self, deadline: Duration) {
        // Side by side, so both finish within the one deadline.
        tokio::join!(
            drain_if_any(self.inner.forwarder.as_ref(), deadline),
            drain_if_any(self.inner.xray.as_ref().map(XrayShare::forwarder), deadline),
        );
        let counts = self.counts();
        if counts.has_losses() {
            counts.log("at shutdown");
        }
        log_xray_losses(&self.inner, &mut 0);
    }
}

async fn drain_if_any(forwarder: Option<&Forwarder>, deadline: Duration) {
    if let Some(forwarder) = forwarder {
        forwarder.drain(deadline).await;
    }
}

/// Every minute: forgets idle clients, and logs the counts when something was refused or lost
/// since the last look. Ends with the relay.
async fn housekeeping(relay: std::sync::Weak<Inner>) {
    let mut logged = RelayCounts::default();
    let mut logged_xray = 0;
    loop {
        tokio::time::sleep(HOUSEKEEPING_PERIOD).await;
        let Some(relay) = relay.upgrade() else { return };
        relay.budgets.forget_idle_clients();
        let counts = relay.counters.snapshot();
        if counts.has_losses() && counts != logged {
            counts.log("the last minute");
            logged = counts;
        }
        log_xray_losses(&relay, &mut logged_xray);
    }
}

/// Logs the browser spans X-Ray did not get, when more were lost since `logged`.
fn log_xray_losses(relay: &Inner, logged: &mut u64) {
    let Some(xray) = &relay.xray else { return };
    let counts = xray.counters.snapshot();
    if counts.spans_not_delivered > *logged {
        tracing::warn!(
            spans_not_delivered = counts.spans_not_delivered,
            spans_forwarded = counts.spans_forwarded,
            "relayed browser spans of sampled traces not delivered to X-Ray, since the start"
        );
        *logged = counts.spans_not_delivered;
    }
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Relay: FromRef<S>,
{
    Router::new().route("/v1/traces", post(relay))
}

#[derive(Clone, Copy)]
enum Encoding {
    Protobuf,
    Json,
}

/// The checks run cheapest first, and each before the work it protects: the client's request
/// budget, the content type, the body's size, its span count, the span budgets, and only then
/// decoding.
async fn relay(State(relay): State<Relay>, request: Request) -> Result<Response, ApiError> {
    let inner = &relay.inner;
    let client = inner.trusted_proxies.request_client(&request);
    let refuse = |refusal: Refusal, spans: usize, error: ApiError| {
        inner.counters.refused(refusal, spans);
        error
    };
    inner
        .budgets
        .request(client)
        .map_err(|over| refuse(Refusal::RateLimited, 0, too_many(over)))?;
    let encoding = encoding(&request)
        .ok_or_else(|| refuse(Refusal::MediaType, 0, ApiError::UnsupportedMediaType))?;
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            refuse(
                Refusal::TooLarge,
                0,
                ApiError::PayloadTooLarge(ErrorCode::PayloadTooLarge),
            )
        })?;
    let spans = match encoding {
        Encoding::Protobuf => count_protobuf_spans(&body),
        Encoding::Json => count_json_spans(&body),
    }
    .ok_or_else(|| refuse(Refusal::Malformed, 0, malformed()))?;
    if spans > inner.limits.max_spans {
        return Err(refuse(
            Refusal::TooManySpans,
            spans,
            ApiError::PayloadTooLarge(ErrorCode::TooManySpans),
        ));
    }
    inner
        .budgets
        .spans(client, spans)
        .map_err(|over| refuse(Refusal::RateLimited, spans, too_many(over)))?;

    let _permit = inner
        .decoding
        .acquire()
        .await
        .map_err(|_| refuse(Refusal::Busy, spans, busy()))?;
    let accepting = relay.clone();
    tokio::task::spawn_blocking(move || accepting.accept(encoding, &body, spans))
        .await
        .map_err(|error| ApiError::Internal(format!("the relay's decoding failed: {error}")))??;

    // OTLP/HTTP's answer: an empty ExportTraceServiceResponse in the request's encoding.
    Ok(match encoding {
        Encoding::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], Bytes::new()).into_response(),
        Encoding::Json => ([(header::CONTENT_TYPE, JSON)], "{}").into_response(),
    })
}

impl Relay {
    /// Decodes, trims and queues one export, and keeps it for the local view only once it is
    /// queued: what the view shows was accepted.
    fn accept(&self, encoding: Encoding, body: &[u8], spans: usize) -> Result<(), ApiError> {
        let inner = &self.inner;
        let mut export = decode(encoding, body).ok_or_else(|| {
            inner.counters.refused(Refusal::Malformed, spans);
            malformed()
        })?;
        let trimmed = enforce(&mut export, &inner.limits, &inner.frontend_service_name);
        if let Some(forwarder) = &inner.forwarder {
            let body = forwarder
                .encode(&export)
                .map_err(|why| ApiError::Internal(format!("the relay cannot encode: {why}")))?;
            forwarder.try_enqueue(Queued { body, spans }).map_err(|_| {
                inner.counters.refused(Refusal::Busy, spans);
                busy()
            })?;
        }
        if let Some(xray) = &inner.xray {
            xray.offer(&export);
        }
        inner.counters.accepted(spans, &trimmed);
        if let Some(store) = &inner.local_traces {
            store.insert(&export.resource_spans);
        }
        Ok(())
    }
}

fn encoding(request: &Request) -> Option<Encoding> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        PROTOBUF => Some(Encoding::Protobuf),
        JSON => Some(Encoding::Json),
        _ => None,
    }
}

fn decode(encoding: Encoding, body: &[u8]) -> Option<ExportTraceServiceRequest> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).ok(),
        Encoding::Json => serde_json::from_slice(body).ok(),
    }
}

fn too_many(over: OverBudget) -> ApiError {
    ApiError::TooManyRequests {
        retry_after: over.retry_after(),
    }
}

fn malformed() -> ApiError {
    ApiError::BadRequest(ErrorCode::MalformedOtlp)
}

fn busy() -> ApiError {
    ApiError::Unavailable(ErrorCode::RelayBusy)
}
