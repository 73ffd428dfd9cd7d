//! The relay's queue to an OTLP endpoint: bounded, sent in order from one task, and drained
//! at shutdown within a deadline. It speaks as the backend's own exporter does: the same
//! protocol (HTTP with protobuf or JSON, or gRPC), compression and headers.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::counters::Counters;
use crate::losses::LossCounter;
use crate::sync::lock;
use crate::telemetry::aws_signing::XrayAuth;
use crate::telemetry::destinations::Destination;
use crate::telemetry::otlp::settings::{OtlpCompression, OtlpProtocol};
use crate::telemetry::otlp::{USER_AGENT, metadata};
use crate::telemetry::outbound::without_redirects;

/// OTLP/HTTP's content types, for what the browser posts and what goes out.
pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";
/// Exports waiting to be forwarded; past that the relay answers 503 rather than grow.
const QUEUE_LENGTH: usize = 64;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// An accepted export as it goes out, with its span count for the counters.
pub struct Queued {
    pub body: Body,
    pub spans: usize,
}

pub enum Body {
    /// Encoded and compressed for HTTP, off the async workers.
    Http(Bytes),
    /// For tonic, which encodes and compresses as it sends.
    Grpc(ExportTraceServiceRequest),
}

pub struct Forwarder {
    queue: mpsc::Sender<Queued>,
    protocol: OtlpProtocol,
    compression: OtlpCompression,
    /// Spans in the queue or being sent: what a missed deadline loses.
    pending_spans: Arc<AtomicUsize>,
    closing: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

impl Forwarder {
    /// Starts sending to the route's endpoint on the runtime.
    pub fn start(route: Destination, counters: Arc<Counters>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_LENGTH);
        let (closing, closed) = watch::channel(false);
        let pending_spans = Arc::new(AtomicUsize::new(0));
        let (protocol, compression) = (route.protocol, route.compression);
        let task = tokio::spawn(forward(
            receiver,
            closed,
            route,
            pending_spans.clone(),
            counters.clone(),
        ));
        Forwarder {
            queue,
            protocol,
            compression,
            pending_spans,
            closing,
            task: std::sync::Mutex::new(Some(task)),
            counters,
        }
    }

    /// The export as this forwarder sends it. Encoding and compressing cost CPU in proportion
    /// to the export: call it where that may take a while (the relay's blocking pool).
    pub fn encode(&self, export: &ExportTraceServiceRequest) -> Result<Body, String> {
        let body = match self.protocol {
            OtlpProtocol::Grpc => return Ok(Body::Grpc(export.clone())),
            OtlpProtocol::HttpProtobuf => export.encode_to_vec(),
            OtlpProtocol::HttpJson => {
                serde_json::to_vec(export).map_err(|error| error.to_string())?
            }
        };
        let body = match self.compression {
            OtlpCompression::None => body,
            OtlpCompression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder
                    .write_all(&body)
                    .and_then(|()| encoder.finish())
                    .map_err(|error| error.to_string())?
            }
            OtlpCompression::Zstd => {
                zstd::bulk::compress(&body, 0).map_err(|error| error.to_string())?
            }
        };
        Ok(Body::Http(Bytes::from(body)))
    }

    /// Queues an export, or gives it back when the queue is full or closed.
    pub fn try_enqueue(&self, export: Queued) -> Result<(), Queued> {
        let spans = export.spans;
        self.pending_spans.fetch_add(spans, Ordering::Relaxed);
        self.queue.try_send(export).map_err(|error| {
            self.pending_spans.fetch_sub(spans, Ordering::Relaxed);
            match error {
                mpsc::error::TrySendError::Full(export)
                | mpsc::error::TrySendError::Closed(export) => export,
            }
        })
    }

    /// Stops taking exports and sends what is queued, for at most `deadline`; what is still
    /// unsent then is counted as not delivered.
    pub async fn drain(&self, deadline: Duration) {
        let _ = self.closing.send(true);
        let Some(mut task) = lock(&self.task).take() else {
            return;
        };
        if tokio::time::timeout(deadline, &mut task).await.is_err() {
            task.abort();
            let lost = self.pending_spans.swap(0, Ordering::Relaxed);
            self.counters.not_delivered(lost);
            tracing::warn!(
                spans = lost,
                ?deadline,
                "relayed browser spans still queued at the shutdown deadline are dropped"
            );
        }
    }
}

/// A route made ready to send on: its client and its headers, checked once.
enum Sender {
    Http {
        client: reqwest::Client,
        endpoint: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        auth: Option<XrayAuth>,
    },
    Grpc {
        client: TraceServiceClient<Channel>,
        metadata: MetadataMap,
    },
}

impl Sender {
    fn new(route: Destination) -> Result<Self, String> {
        if route.protocol == OtlpProtocol::Grpc {
            let endpoint = Endpoint::from_shared(route.endpoint.trim().to_owned())
                .map_err(|_| "the endpoint is no URL".to_owned())?;
            let endpoint = if endpoint.uri().scheme_str() == Some("https") {
                endpoint
                    .tls_config(ClientTlsConfig::new().with_enabled_roots())
                    .map_err(|error| error.to_string())?
            } else {
                endpoint
            };
            let mut client = TraceServiceClient::new(
                endpoint
                    .timeout(FORWARD_TIMEOUT)
                    .user_agent(USER_AGENT)
                    .map_err(|error| error.to_string())?
                    .connect_lazy(),
            );
            match route.compression {
                OtlpCompression::None => {}
                OtlpCompression::Gzip => {
                    client = client.send_compressed(CompressionEncoding::Gzip);
                }
                OtlpCompression::Zstd => {
                    client = client.send_compressed(CompressionEncoding::Zstd);
                }
            }
            return Ok(Sender::Grpc {
                client,
                metadata: metadata(&route.headers)?,
            });
        }
        let content_type = if route.protocol == OtlpProtocol::HttpJson {
            JSON
        } else {
            PROTOBUF
        };
        let mut headers = vec![
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::USER_AGENT, HeaderValue::from_static(USER_AGENT)),
        ];
        match route.compression {
            OtlpCompression::None => {}
            OtlpCompression::Gzip => {
                headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
            }
            OtlpCompression::Zstd => {
                headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("zstd")));
            }
        }
        for (name, value) in route.headers.iter() {
            let name = HeaderName::try_from(name)
                .map_err(|_| format!("the header name {name:?} is not valid in HTTP"))?;
            // The value is a secret (Honeycomb's key): the error names the header only.
            let value = HeaderValue::try_from(value)
                .map_err(|_| format!("the value of the header {name} is not valid in HTTP"))?;
            headers.retain(|(kept, _)| *kept != name);
            headers.push((name, value));
        }
        let client = without_redirects(reqwest::Client::builder())
            .timeout(FORWARD_TIMEOUT)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Sender::Http {
            client,
            endpoint: route.endpoint,
            headers,
            auth: route.auth,
        })
    }

    /// Sends one export; why it was not delivered, when it was not.
    async fn send(&self, body: Body) -> Result<(), String> {
        match (self, body) {
            (
                Sender::Http {
                    client,
                    endpoint,
                    headers,
                    auth,
                },
                Body::Http(body),
            ) => {
                let mut request = client
                    .post(endpoint)
                    .body(body.clone())
                    .build()
                    .map_err(|error| error.without_url().to_string())?;
                request.headers_mut().extend(headers.iter().cloned());
                if let Some(auth) = auth {
                    let url = request.url().to_string();
                    auth.authorize("POST", &url, request.headers_mut(), &body)
                        .map_err(|error| error.to_string())?;
                }
                let response = client
                    .execute(request)
                    .await
                    .map_err(|error| error.without_url().to_string())?;
                let status = response.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("the endpoint answered {status}"))
                }
            }
            (Sender::Grpc { client, metadata }, Body::Grpc(export)) => {
                let mut request = tonic::Request::new(export);
                *request.metadata_mut() = metadata.clone();
                // The client is a handle on one shared channel: cloning it is how tonic sends.
                client
                    .clone()
                    .export(request)
                    .await
                    .map(drop)
                    .map_err(|status| format!("the endpoint answered {:?}", status.code()))
            }
            _ => Err("an export encoded for another protocol".to_owned()),
        }
    }
}

/// Exports the endpoint refused or never got, logged at most once per interval: an endpoint
/// that refuses everything (a 403) must not log a line per export.
struct Failures(LossCounter);

impl Failures {
    fn count(&self, why: &str) {
        if let Some(report) = self.0.add(1) {
            tracing::warn!(
                exports = report.since_last_report,
                total = report.total,
                "relayed browser spans not delivered: {why}"
            );
        }
    }
}

/// Sends each queued export on. Not through the traced client: relaying telemetry must not
/// make telemetry of its own.
async fn forward(
    mut queue: mpsc::Receiver<Queued>,
    mut closing: watch::Receiver<bool>,
    route: Destination,
    pending_spans: Arc<AtomicUsize>,
    counters: Arc<Counters>,
) {
    let failures = Failures(LossCounter::default());
    let sender = match Sender::new(route) {
        Ok(sender) => Some(sender),
        Err(error) => {
            tracing::error!(%error, "the trace relay cannot forward: browser spans are dropped");
            None
        }
    };
    loop {
        let export = tokio::select! {
            export = queue.recv() => export,
            // Only ever set to true, and an Err means the forwarder is gone: both mean closing.
            _ = closing.changed() => {
                // No new exports from here on; what is queued is still received, then None.
                queue.close();
                queue.recv().await
            }
        };
        let Some(export) = export else { break };
        let delivered = match &sender {
            Some(sender) => match sender.send(export.body).await {
                Ok(()) => true,
                Err(why) => {
                    failures.count(&why);
                    false
                }
            },
            None => false,
        };
        pending_spans.fetch_sub(export.spans, Ordering::Relaxed);
        if delivered {
            counters.forwarded(export.spans);
        } else {
            counters.not_delivered(export.spans);
        }
    }
}
