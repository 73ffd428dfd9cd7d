//! POST /v1/traces: the browser's spans (OTLP/HTTP, JSON or protobuf), checked and relayed to
//! the backend's own OTLP destination with the server-side headers, so that no key (Honeycomb's
//! included) ever reaches the browser. It sends nowhere but the configured endpoint, and keeps
//! them in the local trace view's store beside the backend's own.

pub mod limits;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use shared::ErrorCode;
use tokio::sync::mpsc;

use super::trace_store::TraceStore;
use crate::configuration::OtlpHeaders;
use crate::error::ApiError;

/// A browser's batch is a few KB; anything this large is not one.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Exports waiting to be forwarded; past that the relay answers 503 rather than grow.
const QUEUE_LENGTH: usize = 64;
/// Per client address: a tab flushes every few seconds, and on page hide.
const REQUESTS_PER_SECOND: u32 = 5;
const BURST: u32 = 20;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone)]
pub struct Relay {
    /// None: no OTLP endpoint is configured, so relayed spans are accepted and dropped.
    queue: Option<mpsc::Sender<Vec<u8>>>,
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// The local trace view's store, which keeps the browser's spans beside the backend's.
    local_traces: Option<Arc<TraceStore>>,
}

impl Relay {
    /// Starts forwarding to `endpoint` (the backend's own traces endpoint) on the runtime.
    pub fn start(
        endpoint: Option<String>,
        headers: OtlpHeaders,
        local_traces: Option<Arc<TraceStore>>,
    ) -> Relay {
        let quota = Quota::per_second(NonZeroU32::new(REQUESTS_PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
        let limiter = Arc::new(RateLimiter::keyed(quota));
        let queue = endpoint.map(|endpoint| {
            let (sender, receiver) = mpsc::channel(QUEUE_LENGTH);
            tokio::spawn(forward(receiver, endpoint, headers));
            sender
        });
        let forgetting = limiter.clone();
        // Forget idle clients now and then, so the limiter's memory stays bounded.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                forgetting.retain_recent();
            }
        });
        Relay {
            queue,
            limiter,
            local_traces,
        }
    }
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Relay: FromRef<S>,
{
    Router::new().route("/v1/traces", post(relay))
}

enum Encoding {
    Protobuf,
    Json,
}

async fn relay(State(relay): State<Relay>, request: Request) -> Result<Response, ApiError> {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
            peer.ip()
        });
    if relay.limiter.check_key(&client).is_err() {
        return Err(ApiError::TooManyRequests);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    let encoding = match content_type.as_deref() {
        Some(PROTOBUF) => Encoding::Protobuf,
        Some(JSON) => Encoding::Json,
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let export = decode(&encoding, &body).ok_or(ApiError::BadRequest(ErrorCode::MalformedOtlp))?;
    let forwarded = relay.queue.as_ref().map(|_| export.encode_to_vec());
    if let Some(store) = relay.local_traces.clone() {
        // On the blocking pool: converting a big export would hold an async worker too long.
        tokio::task::spawn_blocking(move || store.insert(&export.resource_spans))
            .await
            .map_err(|error| ApiError::Internal(format!("the trace store failed: {error}")))?;
    }
    if let (Some(queue), Some(forwarded)) = (&relay.queue, forwarded) {
        queue
            .try_send(forwarded)
            .map_err(|_| ApiError::Unavailable(ErrorCode::RelayBusy))?;
    }
    // OTLP/HTTP's answer: an empty ExportTraceServiceResponse in the request's encoding.
    Ok(match encoding {
        Encoding::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], Bytes::new()).into_response(),
        Encoding::Json => ([(header::CONTENT_TYPE, JSON)], "{}").into_response(),
    })
}

fn decode(encoding: &Encoding, body: &[u8]) -> Option<ExportTraceServiceRequest> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).ok(),
        Encoding::Json => serde_json::from_slice(body).ok(),
    }
}

/// Sends each queued export on, as protobuf, with the configured headers. Not through the
/// traced client: relaying telemetry must not make telemetry of its own.
async fn forward(mut queue: mpsc::Receiver<Vec<u8>>, endpoint: String, headers: OtlpHeaders) {
    let client = match reqwest::Client::builder().timeout(FORWARD_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the trace relay cannot forward: browser spans are dropped");
            while queue.recv().await.is_some() {}
            return;
        }
    };
    while let Some(body) = queue.recv().await {
        let mut request = client
            .post(&endpoint)
            .header(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))
            .body(body);
        for (name, value) in headers.iter() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                tracing::warn!(status = %response.status(), "the OTLP endpoint refused relayed browser spans");
            }
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "relayed browser spans not delivered");
            }
        }
    }
}
