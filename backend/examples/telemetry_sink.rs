//! Where benchmarks send telemetry: an OTLP/HTTP endpoint on the TCP port given as the first
//! argument and an X-Ray daemon stand-in on the same UDP port, both accepting everything. On
//! SIGTERM or Ctrl-C it says what it received. Written in Rust so that the sink costs the
//! machine less than the backend it measures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;

#[derive(Default)]
struct Received {
    exports: AtomicU64,
    export_bytes: AtomicU64,
    datagrams: AtomicU64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or(4318);
    let received = Arc::new(Received::default());

    let udp = tokio::net::UdpSocket::bind(("127.0.0.1", port)).await?;
    let counter = received.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0; 65_536];
        while udp.recv(&mut buffer).await.is_ok() {
            counter.datagrams.fetch_add(1, Ordering::Relaxed);
        }
    });

    let counter = received.clone();
    let otlp = Router::new().fallback(move |body: Bytes| {
        counter.exports.fetch_add(1, Ordering::Relaxed);
        counter
            .export_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        async { [("content-type", "application/x-protobuf")] }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, otlp)
        .with_graceful_shutdown(backend::startup::shutdown_signal())
        .await?;
    println!(
        "sink received {} OTLP exports ({} bytes) and {} X-Ray datagrams",
        received.exports.load(Ordering::Relaxed),
        received.export_bytes.load(Ordering::Relaxed),
        received.datagrams.load(Ordering::Relaxed)
    );
    Ok(())
}
