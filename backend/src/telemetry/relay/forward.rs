//! The relay's queue to the OTLP endpoint: bounded, sent in order from one task, and drained
//! at shutdown within a deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, header};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::PROTOBUF;
use super::counters::Counters;
use crate::configuration::OtlpHeaders;
use crate::sync::lock;
use crate::telemetry::aws_signing::XrayAuth;
use crate::telemetry::losses::LossCounter;

/// Exports waiting to be forwarded; past that the relay answers 503 rather than grow.
const QUEUE_LENGTH: usize = 64;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// An accepted export, encoded as protobuf, with its span count for the counters.
pub struct Queued {
    pub body: Vec<u8>,
    pub spans: usize,
}

pub struct Forwarder {
    queue: mpsc::Sender<Queued>,
    /// Spans in the queue or being sent: what a missed deadline loses.
    pending_spans: Arc<AtomicUsize>,
    closing: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

impl Forwarder {
    /// Starts sending to `endpoint` on the runtime, authenticated by `auth` when it is X-Ray's.
    pub fn start(
        endpoint: String,
        headers: OtlpHeaders,
        auth: Option<XrayAuth>,
        counters: Arc<Counters>,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_LENGTH);
        let (closing, closed) = watch::channel(false);
        let pending_spans = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(forward(
            receiver,
            closed,
            Destination {
                endpoint,
                headers,
                auth,
                failures: LossCounter::default(),
            },
            pending_spans.clone(),
            counters.clone(),
        ));
        Forwarder {
            queue,
            pending_spans,
            closing,
            task: std::sync::Mutex::new(Some(task)),
            counters,
        }
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

struct Destination {
    endpoint: String,
    headers: OtlpHeaders,
    auth: Option<XrayAuth>,
    /// Exports the endpoint refused or never got, logged at most once per interval: an
    /// endpoint that refuses everything (a 403) must not log a line per export.
    failures: LossCounter,
}

/// Sends each queued export on, as protobuf, with the configured headers. Not through the
/// traced client: relaying telemetry must not make telemetry of its own.
async fn forward(
    mut queue: mpsc::Receiver<Queued>,
    mut closing: watch::Receiver<bool>,
    destination: Destination,
    pending_spans: Arc<AtomicUsize>,
    counters: Arc<Counters>,
) {
    let client = match reqwest::Client::builder().timeout(FORWARD_TIMEOUT).build() {
        Ok(client) => Some(client),
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
        let delivered = match &client {
            Some(client) => send(client, &destination, export.body).await,
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

async fn send(client: &reqwest::Client, destination: &Destination, body: Vec<u8>) -> bool {
    let body = axum::body::Bytes::from(body);
    let mut request = client
        .post(&destination.endpoint)
        .header(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))
        .body(body.clone());
    for (name, value) in destination.headers.iter() {
        request = request.header(name, value);
    }
    let sent = match request.build() {
        Ok(mut request) => match authorize(destination, &mut request, &body) {
            Ok(()) => client.execute(request).await,
            Err(why) => return destination.failed(&why),
        },
        Err(error) => return destination.failed(&error.without_url().to_string()),
    };
    match sent {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => destination.failed(&format!("the endpoint answered {}", response.status())),
        Err(error) => destination.failed(&error.without_url().to_string()),
    }
}

/// Signs the request for X-Ray, or adds its API key, when the destination is X-Ray's.
fn authorize(
    destination: &Destination,
    request: &mut reqwest::Request,
    body: &[u8],
) -> Result<(), String> {
    let Some(auth) = &destination.auth else {
        return Ok(());
    };
    let url = request.url().to_string();
    auth.authorize("POST", &url, request.headers_mut(), body)
        .map_err(|error| error.to_string())
}

impl Destination {
    /// Counts a failed export and logs at most once per interval; always false.
    fn failed(&self, why: &str) -> bool {
        if let Some(report) = self.failures.add(1) {
            tracing::warn!(
                exports = report.since_last_report,
                total = report.total,
                "relayed browser spans not delivered: {why}"
            );
        }
        false
    }
}
