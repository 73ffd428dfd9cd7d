//! Load for `bench/relay.sh`: OTLP protobuf exports posted to the relay at `/v1/traces`.
//!
//! `relay_load URL throughput SECONDS CONNECTIONS SPANS_PER_EXPORT CLIENTS`: each connection
//! posts as fast as it is answered, with `X-Forwarded-For` naming one of CLIENTS addresses
//! (the backend trusts the loopback proxy), and prints the spans per second accepted.
//! `relay_load URL maximal COUNT`: posts COUNT of the costliest exports the relay accepts (a
//! resource as large as the limits allow, shared by 2,000 spans, just under the body cap).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

#[derive(Default)]
struct Tally {
    accepted_exports: AtomicU64,
    accepted_spans: AtomicU64,
    rate_limited: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

fn export(resource_values: usize, spans: usize) -> ExportTraceServiceRequest {
    let value = "x".repeat(4_096);
    let attributes = (0..resource_values)
        .map(|index| KeyValue {
            key: format!("resource.{index}"),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.clone())),
            }),
            ..Default::default()
        })
        .collect();
    let spans = (0..spans)
        .map(|index| Span {
            trace_id: vec![0x69, 0x21, 0xa1, 0xb2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            span_id: (index as u64 + 1).to_be_bytes().to_vec(),
            name: "click".into(),
            start_time_unix_nano: 1_795_000_000_000_000_000,
            end_time_unix_nano: 1_795_000_000_100_000_000,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    forwarded_for: &str,
    spans: u64,
    tally: &Tally,
) {
    let status = client
        .post(url)
        .header("content-type", "application/x-protobuf")
        .header("x-forwarded-for", forwarded_for)
        .body(body)
        .send()
        .await
        .map(|response| response.status().as_u16());
    match status {
        Ok(200) => {
            tally.accepted_exports.fetch_add(1, Ordering::Relaxed);
            tally.accepted_spans.fetch_add(spans, Ordering::Relaxed);
        }
        Ok(429) => {
            tally.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        Ok(503) => {
            tally.busy.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            tally.other.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |index: usize| -> u64 {
        args.get(index)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("argument {index} must be a number: see the doc comment"))
    };
    let url = format!("{}/v1/traces", args[1]);
    let client = reqwest::Client::new();
    let tally = Arc::new(Tally::default());
    match args.get(2).map(String::as_str) {
        Some("maximal") => {
            let body = export(96, 2_000).encode_to_vec();
            for _ in 0..arg(3) {
                post(&client, &url, body.clone(), "198.18.0.1", 2_000, &tally).await;
            }
            println!(
                "posted {} exports of {} bytes: {} accepted, {} refused",
                arg(3),
                body.len(),
                tally.accepted_exports.load(Ordering::Relaxed),
                tally.rate_limited.load(Ordering::Relaxed)
                    + tally.busy.load(Ordering::Relaxed)
                    + tally.other.load(Ordering::Relaxed)
            );
        }
        Some("throughput") => {
            let (seconds, connections, spans, clients) = (arg(3), arg(4), arg(5), arg(6).max(1));
            let body = export(0, spans as usize).encode_to_vec();
            let until = Instant::now() + Duration::from_secs(seconds);
            let workers: Vec<_> = (0..connections)
                .map(|worker| {
                    let (client, url, body, tally) =
                        (client.clone(), url.clone(), body.clone(), tally.clone());
                    tokio::spawn(async move {
                        let mut sent = worker;
                        while Instant::now() < until {
                            let address = sent % clients;
                            let forwarded_for =
                                format!("198.18.{}.{}", address / 256, address % 256);
                            post(&client, &url, body.clone(), &forwarded_for, spans, &tally).await;
                            sent += connections;
                        }
                    })
                })
                .collect();
            for worker in workers {
                let _ = worker.await;
            }
            println!(
                "{:>9.0} spans/s accepted ({} exports of {spans} spans; {} answered 429, {} 503 with the forward queue full, {} other)",
                tally.accepted_spans.load(Ordering::Relaxed) as f64 / seconds as f64,
                tally.accepted_exports.load(Ordering::Relaxed),
                tally.rate_limited.load(Ordering::Relaxed),
                tally.busy.load(Ordering::Relaxed),
                tally.other.load(Ordering::Relaxed),
            );
        }
        _ => panic!("usage: relay_load URL throughput|maximal ... (see the doc comment)"),
    }
}
