//! An OTLP/HTTP endpoint for benchmarks: accepts every export on the port given as the first
//! argument and, on SIGTERM or Ctrl-C, says how many exports and bytes it received. Written in
//! Rust so that the sink costs the machine less than the backend it measures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or(4318);
    let exports = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (export_count, byte_count) = (exports.clone(), bytes.clone());
    let sink = Router::new().fallback(move |body: Bytes| {
        export_count.fetch_add(1, Ordering::Relaxed);
        byte_count.fetch_add(body.len() as u64, Ordering::Relaxed);
        async { [("content-type", "application/x-protobuf")] }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, sink)
        .with_graceful_shutdown(backend::startup::shutdown_signal())
        .await?;
    println!(
        "sink received {} exports, {} bytes",
        exports.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed)
    );
    Ok(())
}
