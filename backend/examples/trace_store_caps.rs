//! The local trace store at its caps (500 traces, 64 MB, a trace of 5,000 spans), measured two
//! ways. Run by bench/trace-store.sh.
//!
//! With no argument, in this process: fills a store to its caps, then keeps inserting (each
//! insert evicts), listing and reading the big trace from three threads for a few seconds
//! while a fourth asks the store for its usage in a loop. That call does nothing but take the
//! lock, so its slowest answer is the longest the lock was held by anyone (plus scheduling).
//! Prints the slowest call of each kind, the store's estimate and this process's resident
//! memory.
//!
//! With a backend's address (`http://127.0.0.1:4567`, the view on): fills that backend through
//! its relay the way a browser would, then times GET /api/traces.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backend::trace_view::store::{StoreLimits, TraceStore};
use nix::time::{ClockId, clock_gettime};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use shared::traces::TraceFilter;

const BIG_TRACE_SPANS: u64 = 5_000;
const MIB: f64 = 1024.0 * 1024.0;
/// How long the threads work against the full store.
const CHURN: Duration = Duration::from_secs(5);

fn main() {
    match std::env::args().nth(1) {
        None => in_process(),
        Some(address) => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(against(&address)),
    }
}

/// `per_trace` spans in each of `traces`, numbered from `first` for unique ids, each span a
/// child of the one before, with attributes the size a browser's fetch span has.
fn export(traces: &[u64], per_trace: u64, first: u64) -> ExportTraceServiceRequest {
    let string = |key: &str, value: String| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    };
    let spans = traces
        .iter()
        .flat_map(|trace| {
            (first..first + per_trace).map(move |id| {
                let start = 1_795_000_000_000_000_000 + id * 1_000;
                let mut trace_id = [0x69; 16];
                trace_id[8..].copy_from_slice(&trace.to_be_bytes());
                Span {
                    trace_id: trace_id.to_vec(),
                    span_id: (id + 1).to_be_bytes().to_vec(),
                    parent_span_id: id.to_be_bytes().to_vec(),
                    name: format!("GET /api/activities/{id}"),
                    kind: 3,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 1_000_000,
                    attributes: vec![
                        string(
                            "url.full",
                            format!("http://localhost:4567/api/{id}?q={}", "a".repeat(150)),
                        ),
                        string("http.request.method", "GET".into()),
                    ],
                    ..Default::default()
                }
            })
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", "cruddur-frontend".into()),
                    string("user_agent.original", "Mozilla/5.0 ".repeat(20)),
                ],
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

/// The slowest of the calls timed into it, in microseconds.
#[derive(Default)]
struct Slowest(AtomicU64);

impl Slowest {
    fn time<T>(&self, call: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = call();
        self.0
            .fetch_max(micros(started.elapsed()), Ordering::Relaxed);
        result
    }

    fn millis(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// How long each probe waited, by microsecond up to 100 ms: on a shared machine the slowest
/// waits are the scheduler's, so the percentiles say more than the maximum.
struct Waits {
    counts: Vec<u64>,
    slowest: u64,
}

impl Waits {
    const BUCKETS: usize = 100_000;

    fn new() -> Self {
        Waits {
            counts: vec![0; Self::BUCKETS + 1],
            slowest: 0,
        }
    }

    fn record(&mut self, waited: Duration) {
        let micros = micros(waited);
        self.slowest = self.slowest.max(micros);
        let bucket =
            usize::try_from(micros).map_or(Self::BUCKETS, |micros| micros.min(Self::BUCKETS));
        self.counts[bucket] += 1;
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The wait that `share` of the probes did not exceed, in milliseconds.
    fn percentile(&self, share: f64) -> f64 {
        let wanted = (self.total() as f64 * share).ceil() as u64;
        let mut seen = 0;
        for (micros, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return micros as f64 / 1000.0;
            }
        }
        self.slowest as f64 / 1000.0
    }

    fn over(&self, millis: usize) -> u64 {
        self.counts[(millis * 1000 + 1).min(Self::BUCKETS)..]
            .iter()
            .sum()
    }
}

/// 150 spans per trace, 10 traces per export, numbered from `first`.
fn ten_traces(first: u64) -> ExportTraceServiceRequest {
    let traces: Vec<u64> = (first..first + 10).collect();
    export(&traces, 150, 0)
}

fn insert_big_trace(store: &TraceStore, trace: u64) {
    for first in (0..BIG_TRACE_SPANS).step_by(500) {
        store.insert(&export(&[trace], 500, first).resource_spans);
    }
}

fn trace_id(trace: u64) -> String {
    format!("{}{}", "69".repeat(8), hex(&trace.to_be_bytes()))
}

fn in_process() {
    let limits = StoreLimits::default();
    let store = Arc::new(TraceStore::new(limits));
    let mut next_trace = 0;
    // Until both caps have evicted.
    while next_trace < 2 * limits.max_traces as u64 {
        store.insert(&ten_traces(next_trace).resource_spans);
        next_trace += 10;
    }
    insert_big_trace(&store, next_trace);
    let big = AtomicU64::new(next_trace);
    next_trace += 1;
    let (traces, bytes) = store.usage();
    println!(
        "filled: {traces} traces, {:.1} MiB estimated, a {BIG_TRACE_SPANS}-span trace; \
         resident {:.1} MiB",
        bytes as f64 / MIB,
        status_kb("VmRSS") as f64 / 1024.0
    );

    let insert = Slowest::default();
    let list = Slowest::default();
    let get = Slowest::default();
    let done = AtomicBool::new(false);
    let mut waits = Waits::new();
    let (mut inserts, mut lists, mut gets) = (0u64, 0u64, 0u64);
    std::thread::scope(|scope| {
        // New traces, each insert evicting the oldest; a new big trace now and then, before
        // the churn evicts the last one.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if inserts % 20 == 19 {
                    insert.time(|| insert_big_trace(&store, next_trace));
                    big.store(next_trace, Ordering::Relaxed);
                    next_trace += 1;
                } else {
                    insert.time(|| store.insert(&ten_traces(next_trace).resource_spans));
                    next_trace += 10;
                }
                inserts += 1;
            }
        });
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                list.time(|| store.list(&TraceFilter::default()));
                lists += 1;
            }
        });
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let found = get.time(|| store.get(&trace_id(big.load(Ordering::Relaxed))));
                assert!(found.is_some(), "the big trace is held");
                gets += 1;
            }
        });
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                store.usage();
                waits.record(started.elapsed());
            }
        });
        std::thread::sleep(CHURN);
        done.store(true, Ordering::Relaxed);
    });
    // The same calls one at a time, timed on the CPU (the scheduler's preemptions left out):
    // each call's CPU time bounds the work it does under the lock.
    let (mut insert_cpu, mut list_cpu, mut get_cpu) = (0u64, 0u64, 0u64);
    for _ in 0..20 {
        let export = ten_traces(next_trace);
        next_trace += 10;
        insert_cpu = insert_cpu.max(on_cpu(|| store.insert(&export.resource_spans)));
        list_cpu = list_cpu.max(on_cpu(|| store.list(&TraceFilter::default())));
        let big = trace_id(big.load(Ordering::Relaxed));
        get_cpu = get_cpu.max(on_cpu(|| store.get(&big)));
    }
    let (traces, bytes) = store.usage();
    println!(
        "{}s at the caps, 4 threads on {} cores (load average {}): {inserts} inserts, {lists} \
         lists, {gets} reads of the big trace, {} probes of the lock",
        CHURN.as_secs(),
        std::thread::available_parallelism().map_or(1, |cores| cores.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?"),
        waits.total()
    );
    println!(
        "waits for the lock (bounding every hold): median {:.3} ms, 99.9% {:.3} ms, 99.99% {:.3} ms, \
         slowest {:.2} ms; {} over 5 ms",
        waits.percentile(0.5),
        waits.percentile(0.999),
        waits.percentile(0.9999),
        waits.slowest as f64 / 1000.0,
        waits.over(5)
    );
    println!(
        "slowest calls: insert {:.2} ms (a big trace's 10 exports: one call here), list {:.2} ms, \
         get of {BIG_TRACE_SPANS} spans {:.2} ms",
        insert.millis(),
        list.millis(),
        get.millis()
    );
    println!(
        "slowest of 20 calls on the CPU, one at a time: insert of 1,500 spans {:.2} ms, list \
         {:.2} ms, get of {BIG_TRACE_SPANS} spans {:.2} ms",
        insert_cpu as f64 / 1e6,
        list_cpu as f64 / 1e6,
        get_cpu as f64 / 1e6
    );
    println!(
        "held: {traces} traces, {:.1} MiB estimated; process resident {:.1} MiB (peak {:.1} MiB)",
        bytes as f64 / MIB,
        status_kb("VmRSS") as f64 / 1024.0,
        status_kb("VmHWM") as f64 / 1024.0
    );
}

async fn against(address: &str) {
    let client = reqwest::Client::new();
    let relay = |export: ExportTraceServiceRequest| {
        let client = client.clone();
        let body = export.encode_to_vec();
        async move {
            // The relay's rate limit answers 429 past its burst: wait and send again.
            loop {
                let response = client
                    .post(format!("{address}/v1/traces"))
                    .header("content-type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the backend answers");
                match response.status().as_u16() {
                    200 => return,
                    429 | 503 => tokio::time::sleep(Duration::from_millis(100)).await,
                    status => panic!("the relay answered {status}"),
                }
            }
        }
    };
    let started = Instant::now();
    // 1,500 spans per export (10 traces of 150), until the trace cap has evicted a few times
    // over; then a trace of 5,000 spans.
    let mut next_trace = 0;
    while next_trace < 1_200 {
        relay(ten_traces(next_trace)).await;
        next_trace += 10;
    }
    for first in (0..BIG_TRACE_SPANS).step_by(1_000) {
        relay(export(&[next_trace], 1_000, first)).await;
    }
    println!("filled through the relay in {:.0?}", started.elapsed());

    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let response = client
            .get(format!("{address}/api/traces"))
            .send()
            .await
            .expect("the backend answers");
        let body = response.bytes().await.expect("a body");
        times.push(started.elapsed());
        listed = serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .expect("a list")
            .len();
    }
    times.sort();
    println!(
        "GET /api/traces with {listed} traces listed, 50 times: median {:.2} ms, slowest {:.2} ms",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

/// The nanoseconds this thread spent on a CPU during `call`.
fn on_cpu<T>(call: impl FnOnce() -> T) -> u64 {
    let ran = || {
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(0, |time| {
            u64::try_from(time.tv_sec()).unwrap_or(0) * 1_000_000_000
                + u64::try_from(time.tv_nsec()).unwrap_or(0)
        })
    };
    let before = ran();
    let result = call();
    let after = ran();
    drop(result);
    after.saturating_sub(before)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A line of /proc/self/status, in KB.
fn status_kb(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
