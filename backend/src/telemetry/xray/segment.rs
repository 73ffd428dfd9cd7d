//! Spans to X-Ray segment documents: a SERVER span is a request's segment, every span under it
//! a subsegment nested in it, and a document too large for one datagram is split into
//! subsegment documents sent on their own.
//!
//! Written here rather than taken from opentelemetry-aws 0.21's translator, which has no
//! naming by Host (`AWS_XRAY_URL`), sets no error/throttle flags on 4xx unless the span status
//! is Error (the HTTP conventions leave it unset there), drops attributes it is not told
//! about, and neither splits nor reports a document over the 64 KB datagram limit.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value as OtelValue};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value, json};

use super::SegmentNaming;

/// Datagram header of the daemon protocol.
pub const DAEMON_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// A datagram's largest payload the daemon accepts (64 KB), header included.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1000;
/// Attributes under this prefix become indexed annotations; the rest, metadata.
pub const ANNOTATION_PREFIX: &str = "app.";
const METADATA_NAMESPACE: &str = "otel";
/// X-Ray indexes at most this many annotations per document.
const MAX_ANNOTATIONS: usize = 50;

/// `1-{8 hex digits of seconds}-{24 hex digits}`: the OTel trace id in X-Ray's form. A `TraceId`
/// is always 32 hex digits, so shared's formatter always accepts it.
pub fn xray_trace_id(trace_id: TraceId) -> String {
    shared::traces::xray_trace_id(&trace_id.to_string()).unwrap_or_default()
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| &attribute.value)
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attribute(span, key).map(|value| value.as_str().into_owned())
}

fn integer(span: &SpanData, key: &str) -> Option<i64> {
    match attribute(span, key)? {
        OtelValue::I64(value) => Some(*value),
        other => other.as_str().parse().ok(),
    }
}

fn json_value(value: &OtelValue) -> Value {
    match value {
        OtelValue::Bool(value) => json!(value),
        OtelValue::I64(value) => json!(value),
        OtelValue::F64(value) => json!(value),
        OtelValue::String(value) => json!(value.as_str()),
        other => json!(other.to_string()),
    }
}

/// Annotation keys may hold only `[A-Za-z0-9_]`.
fn annotation_key(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Segment and subsegment names may hold letters, digits, spaces and `_.:/%&#=+\-@`, 200 at most.
pub(super) fn document_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

/// The Host the request came to, rebuilt from the conventions' attributes.
fn host(span: &SpanData) -> Option<String> {
    let address = text(span, "server.address")?;
    let scheme = text(span, "url.scheme").unwrap_or_else(|| "http".to_owned());
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(match integer(span, "server.port") {
        Some(port) if port != default_port => format!("{address}:{port}"),
        _ => address,
    })
}

/// A batch's documents, each under the datagram limit, and what it took to keep them there.
#[derive(Debug, Default)]
pub struct Translated {
    pub documents: Vec<String>,
    /// Documents too large even alone, sent without some details: their names and the parts
    /// they shed.
    pub shed: Vec<(String, Vec<&'static str>)>,
    /// The names of documents too large even without those details, not sent.
    pub too_large: Vec<String>,
}

#[derive(Debug)]
pub struct Translator {
    naming: SegmentNaming,
    sdk_version: String,
}

impl Translator {
    pub fn new(naming: SegmentNaming) -> Self {
        Translator {
            naming,
            sdk_version: String::new(),
        }
    }

    pub fn set_sdk_version(&mut self, version: String) {
        self.sdk_version = version;
    }

    /// The documents for the sampled spans of a batch, each ready to send. A child whose parent
    /// is not in the batch (it ends later) goes out as a subsegment document of its own.
    pub fn documents(&self, spans: &[&SpanData]) -> Translated {
        let in_batch: HashMap<SpanId, &SpanData> = spans
            .iter()
            .map(|span| (span.span_context.span_id(), *span))
            .collect();
        let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
        let mut roots = Vec::new();
        for span in spans {
            if span.span_kind != SpanKind::Server && in_batch.contains_key(&span.parent_span_id) {
                children.entry(span.parent_span_id).or_default().push(span);
            } else {
                roots.push(*span);
            }
        }
        let mut documents = Translated::default();
        for root in roots {
            let mut document = self.document_tree(root, &children);
            if root.span_kind != SpanKind::Server {
                make_standalone(
                    &mut document,
                    root.span_context.trace_id(),
                    root.parent_span_id,
                );
            }
            split_to_fit(document, root.span_context.trace_id(), &mut documents);
        }
        documents
    }

    fn document_tree(
        &self,
        span: &SpanData,
        children: &HashMap<SpanId, Vec<&SpanData>>,
    ) -> Map<String, Value> {
        let mut document = self.document(span);
        if let Some(own) = children.get(&span.span_context.span_id()) {
            let subsegments: Vec<Value> = own
                .iter()
                .map(|child| Value::Object(self.document_tree(child, children)))
                .collect();
            document.insert("subsegments".into(), Value::Array(subsegments));
        }
        document
    }

    fn document(&self, span: &SpanData) -> Map<String, Value> {
        let is_segment = span.span_kind == SpanKind::Server;
        let mut document = Map::new();
        let name = if is_segment {
            self.naming.name(host(span).as_deref())
        } else {
            document_name(&span.name)
        };
        document.insert("name".into(), json!(name));
        document.insert("id".into(), json!(span.span_context.span_id().to_string()));
        document.insert("start_time".into(), json!(seconds(span.start_time)));
        document.insert("end_time".into(), json!(seconds(span.end_time)));
        if is_segment {
            document.insert(
                "trace_id".into(),
                json!(xray_trace_id(span.span_context.trace_id())),
            );
            if span.parent_span_id != SpanId::INVALID {
                document.insert("parent_id".into(), json!(span.parent_span_id.to_string()));
            }
            document.insert(
                "aws".into(),
                json!({"xray": {"sdk": "opentelemetry for rust", "sdk_version": self.sdk_version}}),
            );
            document.insert(
                "service".into(),
                json!({"version": env!("CARGO_PKG_VERSION"), "runtime": "rust"}),
            );
        }
        if span.span_kind == SpanKind::Client {
            document.insert("namespace".into(), json!("remote"));
        }
        if let Some(http) = http_block(span) {
            document.insert("http".into(), http);
        }
        if let Some(sql) = sql_block(span) {
            document.insert("sql".into(), sql);
        }
        insert_flags_and_cause(span, &mut document);
        insert_attributes(span, &mut document);
        document
    }
}

/// A database call's `sql` block, from the database conventions and the two attributes the
/// repository adds for what they have no name for (the version and the URL, credentials off).
fn sql_block(span: &SpanData) -> Option<Value> {
    let database_type = text(span, "db.system.name")?;
    let mut sql = Map::new();
    sql.insert("database_type".into(), json!(database_type));
    let optional = [
        ("database_version", "cruddur.db.version"),
        ("sanitized_query", "db.query.text"),
        ("url", "cruddur.db.url"),
    ];
    for (field, key) in optional {
        if let Some(value) = text(span, key) {
            sql.insert(field.into(), json!(value));
        }
    }
    Some(Value::Object(sql))
}

fn http_block(span: &SpanData) -> Option<Value> {
    let method = text(span, "http.request.method")?;
    let mut request = Map::new();
    request.insert("method".into(), json!(method));
    match span.span_kind {
        SpanKind::Server => {
            if let Some(host) = host(span) {
                let scheme = text(span, "url.scheme").unwrap_or_else(|| "http".to_owned());
                let path = text(span, "url.path").unwrap_or_else(|| "/".to_owned());
                let query = text(span, "url.query")
                    .map(|query| format!("?{query}"))
                    .unwrap_or_default();
                request.insert(
                    "url".into(),
                    json!(format!("{scheme}://{host}{path}{query}")),
                );
            }
            if let Some(agent) = text(span, "user_agent.original") {
                request.insert("user_agent".into(), json!(agent));
            }
            if let Some(client) = text(span, "client.address") {
                let peer = text(span, "network.peer.address");
                let forwarded = peer.is_some_and(|peer| peer != client);
                request.insert("client_ip".into(), json!(client));
                if forwarded {
                    request.insert("x_forwarded_for".into(), json!(true));
                }
            }
        }
        _ => {
            if let Some(url) = text(span, "url.full") {
                request.insert("url".into(), json!(url));
            }
            // The call carried `traceparent`: the service called continues this trace.
            request.insert("traced".into(), json!(true));
        }
    }
    let mut response = Map::new();
    if let Some(status) = integer(span, "http.response.status_code") {
        response.insert("status".into(), json!(status));
    }
    if let Some(length) = integer(span, "http.response.body.size") {
        response.insert("content_length".into(), json!(length));
    }
    let mut http = Map::new();
    http.insert("request".into(), Value::Object(request));
    if !response.is_empty() {
        http.insert("response".into(), Value::Object(response));
    }
    Some(Value::Object(http))
}

/// `error` on 4xx, `throttle` too on 429, `fault` on 5xx or a failed span without a status;
/// `cause` with the span's exceptions, or the failure itself when it recorded none.
fn insert_flags_and_cause(span: &SpanData, document: &mut Map<String, Value>) {
    let status = integer(span, "http.response.status_code");
    let failed = matches!(span.status, Status::Error { .. });
    let (error, throttle, fault) = match status {
        Some(429) => (true, true, false),
        Some(400..=499) => (true, false, false),
        Some(500..) => (false, false, true),
        _ => (false, false, failed),
    };
    for (flag, set) in [("error", error), ("throttle", throttle), ("fault", fault)] {
        if set {
            document.insert(flag.into(), json!(true));
        }
    }
    if !(fault || error) {
        return;
    }
    let remote = span.span_kind == SpanKind::Client;
    let mut exceptions: Vec<Value> = span
        .events
        .iter()
        .filter(|event| event.name == "exception")
        .map(|event| {
            let field = |key: &str| {
                event
                    .attributes
                    .iter()
                    .find(|attribute| attribute.key.as_str() == key)
                    .map(|attribute| attribute.value.as_str().into_owned())
            };
            json!({
                "id": exception_id(),
                "type": field("exception.type").unwrap_or_else(|| "error".to_owned()),
                "message": field("exception.message").unwrap_or_default(),
                "remote": remote,
            })
        })
        .collect();
    if exceptions.is_empty() && fault {
        let message = match &span.status {
            Status::Error { description } if !description.is_empty() => description.to_string(),
            _ => status.map_or_else(|| "failed".to_owned(), |status| format!("HTTP {status}")),
        };
        let kind = text(span, "error.type").unwrap_or_else(|| "error".to_owned());
        exceptions.push(
            json!({"id": exception_id(), "type": kind, "message": message, "remote": remote}),
        );
    }
    if !exceptions.is_empty() {
        document.insert("cause".into(), json!({ "exceptions": exceptions }));
    }
}

fn exception_id() -> String {
    let id: u64 = rand::random();
    format!("{id:016x}")
}

fn insert_attributes(span: &SpanData, document: &mut Map<String, Value>) {
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    for KeyValue { key, value, .. } in &span.attributes {
        let indexable = matches!(
            value,
            OtelValue::Bool(_) | OtelValue::I64(_) | OtelValue::F64(_) | OtelValue::String(_)
        );
        if key.as_str().starts_with(ANNOTATION_PREFIX)
            && indexable
            && annotations.len() < MAX_ANNOTATIONS
        {
            annotations.insert(annotation_key(key.as_str()), json_value(value));
        } else {
            metadata.insert(key.as_str().to_owned(), json_value(value));
        }
    }
    if !annotations.is_empty() {
        document.insert("annotations".into(), Value::Object(annotations));
    }
    if !metadata.is_empty() {
        document.insert("metadata".into(), json!({ METADATA_NAMESPACE: metadata }));
    }
}

/// A subsegment sent on its own names its trace and parent.
fn make_standalone(document: &mut Map<String, Value>, trace_id: TraceId, parent_id: SpanId) {
    document.insert("type".into(), json!("subsegment"));
    document.insert("trace_id".into(), json!(xray_trace_id(trace_id)));
    document.insert("parent_id".into(), json!(parent_id.to_string()));
}

/// Sends `document` whole when it fits a datagram. Otherwise it keeps the subsegments that fit
/// beside it and the others go out as documents of their own (split again as needed); a single
/// span still too large sheds details until it fits, and is left out when it cannot: no
/// datagram over the limit is ever sent.
fn split_to_fit(mut document: Map<String, Value>, trace_id: TraceId, out: &mut Translated) {
    let serialized = serde_json::to_string(&document).unwrap_or_default();
    if fits_a_datagram(&serialized) {
        out.documents.push(serialized);
        return;
    }
    if let Some(Value::Array(subsegments)) = document.remove("subsegments") {
        let parent = SpanId::from_hex(document["id"].as_str().unwrap_or_default())
            .unwrap_or(SpanId::INVALID);
        // `,"subsegments":[` and `]`, then each kept subsegment and its comma.
        let mut size = DAEMON_HEADER.len()
            + serde_json::to_string(&document).map_or(0, |text| text.len())
            + 20;
        let mut kept = Vec::new();
        let mut standalone = Vec::new();
        for subsegment in subsegments {
            let length = serde_json::to_string(&subsegment).map_or(0, |text| text.len()) + 1;
            if size + length <= MAX_DATAGRAM_BYTES {
                size += length;
                kept.push(subsegment);
            } else {
                standalone.push(subsegment);
            }
        }
        if !kept.is_empty() {
            document.insert("subsegments".into(), Value::Array(kept));
        }
        split_to_fit(document, trace_id, out);
        for subsegment in standalone {
            if let Value::Object(mut subsegment) = subsegment {
                make_standalone(&mut subsegment, trace_id, parent);
                split_to_fit(subsegment, trace_id, out);
            }
        }
        return;
    }
    let name = document["name"].as_str().unwrap_or_default().to_owned();
    match shed_to_fit(document) {
        Some((serialized, shed)) => {
            out.documents.push(serialized);
            out.shed.push((name, shed));
        }
        None => out.too_large.push(name),
    }
}

fn fits_a_datagram(serialized: &str) -> bool {
    DAEMON_HEADER.len() + serialized.len() <= MAX_DATAGRAM_BYTES
}

/// What a document still too large alone gives up, in this order, until it fits: the request's
/// details (URL, user agent and client address, all from the client), its metadata, its
/// annotations, then its exceptions. Its name, ids, times, flags and status stay, so the
/// request is still found and counted.
const SHEDDABLE: [(&str, Shed); 4] = [
    ("http_request", shed_request_details),
    ("metadata", |document| document.remove("metadata").is_some()),
    ("annotations", |document| {
        document.remove("annotations").is_some()
    }),
    ("cause", |document| document.remove("cause").is_some()),
];

/// Removes a part of a document; says whether it had one.
type Shed = fn(&mut Map<String, Value>) -> bool;

const OMITTED: &str = "over the 64 KB datagram limit";

/// Keeps the request's method only.
fn shed_request_details(document: &mut Map<String, Value>) -> bool {
    let Some(Value::Object(request)) = document
        .get_mut("http")
        .and_then(|http| http.get_mut("request"))
    else {
        return false;
    };
    let before = request.len();
    request.retain(|key, _| key == "method");
    request.len() < before
}

/// Says in the document's metadata what it was sent without, `<part>_omitted` for each.
fn mark_omitted(document: &mut Map<String, Value>, shed: &[&str]) {
    let metadata = document
        .entry("metadata")
        .or_insert_with(|| json!({ METADATA_NAMESPACE: {} }));
    if let Some(Value::Object(namespace)) = metadata.get_mut(METADATA_NAMESPACE) {
        for part in shed {
            namespace.insert(format!("{part}_omitted"), json!(OMITTED));
        }
    }
}

/// `document` shedding what `SHEDDABLE` lists until it fits, and what it shed; None when it
/// cannot fit even so.
fn shed_to_fit(mut document: Map<String, Value>) -> Option<(String, Vec<&'static str>)> {
    let mut shed = Vec::new();
    for (part, shed_part) in SHEDDABLE {
        if !shed_part(&mut document) {
            continue;
        }
        shed.push(part);
        mark_omitted(&mut document, &shed);
        let serialized = serde_json::to_string(&document).unwrap_or_default();
        if fits_a_datagram(&serialized) {
            return Some((serialized, shed));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::DEFAULT_SERVICE_NAME;
    use crate::telemetry::xray::test_spans;
    use opentelemetry::trace::Event;
    use shared::ACTING_USER_HANDLE;

    fn span(kind: SpanKind, attributes: Vec<KeyValue>, status: Status) -> SpanData {
        let mut span = test_spans::span(7, 0, kind, attributes);
        span.name = "GET".into();
        span.status = status;
        span
    }

    fn translate(span: &SpanData) -> Value {
        let translator = Translator::new(SegmentNaming::new(DEFAULT_SERVICE_NAME.into(), None));
        let documents = translator.documents(&[span]).documents;
        serde_json::from_str(&documents[0]).unwrap()
    }

    fn server_response(status: i64) -> SpanData {
        span(
            SpanKind::Server,
            vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.response.status_code", status),
            ],
            Status::Unset,
        )
    }

    #[test]
    fn status_codes_set_error_throttle_and_fault() {
        let throttled = translate(&server_response(429));
        assert_eq!(
            (throttled["error"].clone(), throttled["throttle"].clone()),
            (json!(true), json!(true))
        );
        let not_found = translate(&server_response(404));
        assert_eq!(not_found["error"], true);
        assert_eq!(not_found.get("throttle"), None);
        assert_eq!(not_found.get("cause"), None);
        let ok = translate(&server_response(200));
        assert_eq!((ok.get("error"), ok.get("fault")), (None, None));
    }

    #[test]
    fn a_fault_carries_its_exception_as_the_cause() {
        let mut failed = server_response(500);
        failed.status = Status::error("500 Internal Server Error");
        failed.events.events.push(Event::new(
            "exception",
            SystemTime::now(),
            vec![
                KeyValue::new("exception.type", "panic"),
                KeyValue::new("exception.message", "index out of bounds"),
            ],
            0,
        ));
        let segment = translate(&failed);
        assert_eq!(segment["fault"], true);
        let exception = &segment["cause"]["exceptions"][0];
        assert_eq!(exception["type"], "panic");
        assert_eq!(exception["message"], "index out of bounds");
        assert_eq!(exception["id"].as_str().unwrap().len(), 16);

        let mut bare = server_response(503);
        bare.status = Status::error("503 Service Unavailable");
        let segment = translate(&bare);
        assert_eq!(
            segment["cause"]["exceptions"][0]["message"],
            "503 Service Unavailable"
        );
    }

    #[test]
    fn an_outbound_call_is_a_remote_traced_subsegment() {
        let mut call = span(
            SpanKind::Client,
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", "https://cognito.example/keys"),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("server.address", "cognito.example"),
            ],
            Status::Unset,
        );
        call.parent_span_id = SpanId::from(3);
        let subsegment = translate(&call);
        assert_eq!(subsegment["type"], "subsegment");
        assert_eq!(subsegment["parent_id"], "0000000000000003");
        assert_eq!(
            subsegment["trace_id"],
            "1-6921a1b2-c3d4e5f60718293a4b5c6d7e"
        );
        assert_eq!(subsegment["namespace"], "remote");
        assert_eq!(subsegment["http"]["request"]["traced"], true);
        assert_eq!(
            subsegment["http"]["request"]["url"],
            "https://cognito.example/keys"
        );
        assert_eq!(subsegment["http"]["response"]["status"], 200);
        assert_eq!(
            subsegment["metadata"]["otel"]["server.address"],
            "cognito.example"
        );
    }

    #[test]
    fn a_database_call_is_a_remote_subsegment_with_its_sql_block() {
        let subsegment = translate(&span(
            SpanKind::Client,
            vec![
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new(
                    "db.query.text",
                    "SELECT handle FROM users WHERE handle = $1",
                ),
                KeyValue::new("cruddur.db.version", "15.8"),
                KeyValue::new("cruddur.db.url", "postgres://db:5432/cruddur"),
            ],
            Status::Unset,
        ));
        assert_eq!(subsegment["namespace"], "remote");
        assert_eq!(
            subsegment["sql"],
            json!({
                "database_type": "postgresql",
                "database_version": "15.8",
                "sanitized_query": "SELECT handle FROM users WHERE handle = $1",
                "url": "postgres://db:5432/cruddur",
            })
        );
    }

    #[test]
    fn app_attributes_become_indexable_annotations() {
        let step = span(
            SpanKind::Internal,
            vec![
                KeyValue::new("app.user_handle", ACTING_USER_HANDLE),
                KeyValue::new("app.result-length", 4),
                KeyValue::new("code.lineno", 12),
            ],
            Status::Unset,
        );
        let document = translate(&step);
        assert_eq!(
            document["annotations"]["app_user_handle"],
            ACTING_USER_HANDLE
        );
        assert_eq!(document["annotations"]["app_result_length"], 4);
        assert_eq!(document["metadata"]["otel"]["code.lineno"], 12);
    }

    #[test]
    fn a_span_too_large_alone_is_sent_without_its_metadata_and_says_so() {
        let huge = span(
            SpanKind::Internal,
            vec![KeyValue::new("db.statement", "x".repeat(70_000))],
            Status::Unset,
        );
        let translator = Translator::new(SegmentNaming::new(DEFAULT_SERVICE_NAME.into(), None));
        let documents = translator.documents(&[&huge]).documents;
        assert_eq!(documents.len(), 1);
        assert!(documents[0].len() < MAX_DATAGRAM_BYTES);
        let document: Value = serde_json::from_str(&documents[0]).unwrap();
        assert_eq!(
            document["metadata"]["otel"]["metadata_omitted"],
            "over the 64 KB datagram limit"
        );
    }

    #[test]
    fn a_span_too_large_alone_sheds_its_request_details_before_its_metadata() {
        let server = span(
            SpanKind::Server,
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("server.address", "localhost"),
                KeyValue::new("url.path", format!("/{}", "p".repeat(25_000))),
                KeyValue::new("url.query", "q".repeat(25_000)),
                KeyValue::new("user_agent.original", "cruddur-tests/1.0"),
                KeyValue::new("http.response.status_code", 404),
            ],
            Status::Unset,
        );
        let translator = Translator::new(SegmentNaming::new(DEFAULT_SERVICE_NAME.into(), None));
        let translated = translator.documents(&[&server]);
        assert_eq!(translated.documents.len(), 1);
        assert!(fits_a_datagram(&translated.documents[0]));
        let document: Value = serde_json::from_str(&translated.documents[0]).unwrap();
        assert_eq!(document["http"]["request"], json!({"method": "GET"}));
        assert_eq!(document["http"]["response"]["status"], 404);
        assert_eq!(document["error"], true);
        assert_eq!(
            document["metadata"]["otel"]["http_request_omitted"],
            OMITTED
        );
        assert_eq!(
            document["metadata"]["otel"]["url.query"]
                .as_str()
                .map(str::len),
            Some(25_000),
            "the metadata stays when the document fits without the details"
        );
        assert_eq!(
            translated.shed,
            [(DEFAULT_SERVICE_NAME.to_owned(), vec!["http_request"])]
        );
    }

    #[test]
    fn a_document_that_cannot_fit_is_not_sent_and_is_counted() {
        let mut document = Map::new();
        document.insert("name".into(), json!("n".repeat(MAX_DATAGRAM_BYTES)));
        document.insert("id".into(), json!("0000000000000007"));
        document.insert("metadata".into(), json!({ METADATA_NAMESPACE: {"k": "v"} }));
        let mut translated = Translated::default();
        split_to_fit(
            document,
            TraceId::from_hex(test_spans::TRACE).unwrap(),
            &mut translated,
        );
        assert!(translated.documents.is_empty());
        assert_eq!(translated.too_large, ["n".repeat(MAX_DATAGRAM_BYTES)]);
    }

    #[test]
    fn names_keep_only_the_characters_xray_allows() {
        assert_eq!(
            document_name("GET /api/activities/{uuid}"),
            "GET /api/activities/_uuid_"
        );
        assert_eq!(document_name(&"a".repeat(300)).len(), 200);
    }
}
