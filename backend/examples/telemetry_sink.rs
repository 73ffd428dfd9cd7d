//! Where benchmarks send telemetry: an OTLP/HTTP endpoint on the TCP port given as the first
//! argument and an X-Ray daemon stand-in on the same UDP port, both accepting everything. On
//! SIGTERM or Ctrl-C it says what it received. Written in Rust so that the sink costs the
//! machine less than the backend it measures.
//! With a file as the second argument (`bench/scale.sh`), it also decodes each export
//! (uncompressed OTLP protobuf) and, on exit, writes there a line for each SERVER span it
//! received: its trace id and its name.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::Uri;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

#[derive(Default)]
struct Received {
    exports: AtomicU64,
    export_bytes: AtomicU64,
    datagrams: AtomicU64,
    undecodable: AtomicU64,
    /// A line for each SERVER span, when asked to keep them.
    server_spans: Option<Mutex<String>>,
}

impl Received {
    fn keep_server_spans(&self, body: &[u8]) {
        let Some(lines) = &self.server_spans else {
            return;
        };
        let Ok(export) = ExportTraceServiceRequest::decode(body) else {
            self.undecodable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut lines = lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let spans = export
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans);
        for span in spans.filter(|span| span.kind == SpanKind::Server as i32) {
            for byte in &span.trace_id {
                let _ = write!(lines, "{byte:02x}");
            }
            let _ = writeln!(lines, " {}", span.name);
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or(4318);
    let spans_file = std::env::args().nth(2);
    let received = Arc::new(Received {
        server_spans: spans_file.as_ref().map(|_| Mutex::default()),
        ..Received::default()
    });

    let udp = tokio::net::UdpSocket::bind(("127.0.0.1", port)).await?;
    let counter = received.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0; 65_536];
        while udp.recv(&mut buffer).await.is_ok() {
            counter.datagrams.fetch_add(1, Ordering::Relaxed);
        }
    });

    let counter = received.clone();
    // Everything else posted here is X-Ray's sampling calls, answered with nothing.
    let otlp = Router::new().fallback(move |uri: Uri, body: Bytes| {
        if uri.path() == "/v1/traces" {
            counter.exports.fetch_add(1, Ordering::Relaxed);
            counter
                .export_bytes
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            counter.keep_server_spans(&body);
        }
        async { [("content-type", "application/x-protobuf")] }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, otlp)
        .with_graceful_shutdown(backend::startup::shutdown_signal())
        .await?;
    println!(
        "sink received {} OTLP exports ({} bytes, {} undecodable) and {} X-Ray datagrams",
        received.exports.load(Ordering::Relaxed),
        received.export_bytes.load(Ordering::Relaxed),
        received.undecodable.load(Ordering::Relaxed),
        received.datagrams.load(Ordering::Relaxed)
    );
    if let (Some(path), Some(lines)) = (spans_file, &received.server_spans) {
        let lines = lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::fs::write(path, lines.as_bytes())?;
    }
    Ok(())
}
