//! One request's X-Ray segment document, from its finished spans to JSON text, in ns: the four
//! spans of `GET /api/activities/home` (the server span with the middleware's attributes, the
//! handler's, and its two database queries with statements of the feed's length), translated as
//! the X-Ray exporter translates a batch at 100% sampling. Run with
//! `cargo bench -p backend --bench span_to_xray`; CI only builds it. Instructions per request:
//! the same binary under `valgrind --tool=callgrind --toggle-collect='*Translator*documents*'`,
//! the count divided by `CALLS`.

use std::hint::black_box;
use std::time::Instant;

use backend::telemetry::xray::SegmentNaming;
use backend::telemetry::xray::segment::Translator;
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

const REQUESTS_PER_ROUND: u32 = 10_000;
const ROUNDS: usize = 5;
/// Every call of `Translator::documents`: one for the document's size, a warm-up round, then the
/// measured ones.
const CALLS: u32 = 1 + REQUESTS_PER_ROUND * (ROUNDS as u32 + 1);

const FEED_QUERY: &str = "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, \
    a.expires_at, a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) \
    AS replies_count FROM activities a JOIN users u ON u.handle = a.user_handle WHERE \
    a.expires_at > $1 AND (a.created_at < $2 OR (a.created_at = $2 AND a.uuid < $3)) AND 1 = 1 \
    ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4";
const REPLIES_QUERY: &str = "SELECT uuid, activity_uuid, user_handle, display_name, message, \
    created_at FROM (SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, \
    r.created_at, ROW_NUMBER() OVER (PARTITION BY r.activity_uuid ORDER BY r.created_at DESC, \
    r.uuid DESC) AS newest FROM replies r JOIN users u ON u.handle = r.user_handle WHERE \
    r.activity_uuid IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
    $17, $18, $19, $20)) ranked WHERE newest <= $21 ORDER BY created_at, uuid";

fn code_location(line: i64) -> [KeyValue; 3] {
    [
        KeyValue::new("code.file.path", "backend/src/repository/sql.rs"),
        KeyValue::new("code.module.name", "backend::repository::sql"),
        KeyValue::new("code.line.number", line),
    ]
}

fn database_query(statement: &'static str) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("db.operation.name", "SELECT"),
        KeyValue::new("db.collection.name", "activities"),
        KeyValue::new("db.query.text", statement),
        KeyValue::new("db.system.name", "sqlite"),
        KeyValue::new("db.namespace", "cruddur.db"),
        KeyValue::new("cruddur.db.version", "3.50.4"),
        KeyValue::new("cruddur.db.url", "sqlite:///data/cruddur.db"),
    ];
    attributes.extend(code_location(440));
    attributes
}

/// The request's spans made through the SDK, in the order they end, as the exporter gets them.
fn home_request() -> Vec<SpanData> {
    let finished = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(finished.clone())
        .build();
    let tracer = provider.tracer("backend");
    let server = tracer
        .span_builder("GET /api/activities/home")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/api/activities/home"),
            KeyValue::new("url.path", "/api/activities/home"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 4567),
            KeyValue::new("client.address", "127.0.0.1"),
            KeyValue::new("network.peer.address", "127.0.0.1"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("http.response.body.size", 5120),
        ])
        .start(&tracer);
    let request = Context::current_with_span(server);
    let trace_id = request.span().span_context().trace_id().to_string();
    request
        .span()
        .set_attribute(KeyValue::new("trace_id", trace_id));
    let mut handler_attributes = vec![
        KeyValue::new("app.now", "2026-12-05T15:30:00.123456Z"),
        KeyValue::new("app.result_length", 20),
    ];
    handler_attributes.extend(code_location(35));
    let handler = tracer
        .span_builder("home-activities-mock-data")
        .with_attributes(handler_attributes)
        .start_with_context(&tracer, &request);
    let handler = request.with_span(handler);
    for statement in [FEED_QUERY, REPLIES_QUERY] {
        tracer
            .span_builder("SELECT activities")
            .with_kind(SpanKind::Client)
            .with_attributes(database_query(statement))
            .start_with_context(&tracer, &handler)
            .end();
    }
    handler.span().end();
    request.span().end();
    finished.get_finished_spans().expect("the finished spans")
}

fn main() {
    let mut translator = Translator::new(SegmentNaming::new(DEFAULT_SERVICE_NAME.to_owned(), None));
    translator.set_sdk_version("0.33.1".to_owned());
    let spans = home_request();
    let batch: Vec<&SpanData> = spans.iter().collect();
    let bytes: usize = translator
        .documents(&batch)
        .documents
        .iter()
        .map(String::len)
        .sum();
    let mut rounds: Vec<f64> = (0..=ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..REQUESTS_PER_ROUND {
                black_box(translator.documents(black_box(&batch)));
            }
            started.elapsed().as_nanos() as f64 / f64::from(REQUESTS_PER_ROUND)
        })
        .skip(1)
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!(
        "one request's X-Ray document ({bytes} bytes) from its 4 spans: {:.0} ns (median of {ROUNDS} rounds of {REQUESTS_PER_ROUND}; fastest {:.0} ns; {CALLS} calls in all)",
        rounds[ROUNDS / 2],
        rounds[0]
    );
}
