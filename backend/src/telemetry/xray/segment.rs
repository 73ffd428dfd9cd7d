//! Spans to X-Ray segment documents: a SERVER span is a request's segment, every span under it
//! a subsegment nested in it, and a document too large for one datagram is split into
//! subsegment documents sent on their own.
//!
//! Written here rather than taken from opentelemetry-aws 0.21's translator, which has no
//! naming by Host (`AWS_XRAY_URL`), sets no error/throttle flags on 4xx unless the span status
//! is Error (the HTTP conventions leave it unset there), drops attributes it is not told
//! about, and neither splits nor reports a document over the 64 KB datagram limit.
//!
//! A document is a typed struct that borrows from its span and is serialized straight to
//! JSON: every sampled request pays for its translation, so nothing is built twice.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::Value as OtelValue;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use serde::{Serialize, Serializer};

mod attributes;
mod fit;

use super::SegmentNaming;
use crate::trace_format::{hex, push_hex};
use attributes::{http_block, set_attributes, set_flags_and_cause, sql_block};
use fit::{make_standalone, split_to_fit};

/// Datagram header of the daemon protocol.
pub const DAEMON_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// A datagram's largest payload the daemon accepts (64 KB), header included.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1000;
/// Attributes under this prefix become indexed annotations; the rest, metadata.
pub const ANNOTATION_PREFIX: &str = "app.";
/// X-Ray indexes at most this many annotations per document.
const MAX_ANNOTATIONS: usize = 50;

/// `1-{8 hex digits of seconds}-{24 hex digits}`: the OTel trace id in X-Ray's form, as
/// `shared::traces::xray_trace_id` writes it from the hex.
pub fn xray_trace_id(trace_id: TraceId) -> String {
    let bytes = trace_id.to_bytes();
    let mut text = String::with_capacity(35);
    text.push_str("1-");
    push_hex(&mut text, &bytes[..4]);
    text.push('-');
    push_hex(&mut text, &bytes[4..]);
    text
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

fn text<'a>(span: &'a SpanData, key: &str) -> Option<Cow<'a, str>> {
    attribute(span, key).map(OtelValue::as_str)
}

fn integer(span: &SpanData, key: &str) -> Option<i64> {
    match attribute(span, key)? {
        OtelValue::I64(value) => Some(*value),
        other => other.as_str().parse().ok(),
    }
}

/// Annotation keys may hold only `[A-Za-z0-9_]`.
fn annotation_key(key: &str) -> Cow<'_, str> {
    if key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Cow::Borrowed(key);
    }
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
    let scheme = text(span, "url.scheme").unwrap_or(Cow::Borrowed("http"));
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(match integer(span, "server.port") {
        Some(port) if port != default_port => format!("{address}:{port}"),
        _ => address.into_owned(),
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

/// An attribute's value in a document: the span's own, or a note the translation adds.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Otel(&'a OtelValue),
    Note(&'static str),
}

impl Serialize for Scalar<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Otel(OtelValue::Bool(value)) => serializer.serialize_bool(*value),
            Scalar::Otel(OtelValue::I64(value)) => serializer.serialize_i64(*value),
            // Not a finite number: null, as JSON has no other way to say it.
            Scalar::Otel(OtelValue::F64(value)) if !value.is_finite() => {
                serializer.serialize_unit()
            }
            Scalar::Otel(OtelValue::F64(value)) => serializer.serialize_f64(*value),
            Scalar::Otel(OtelValue::String(value)) => serializer.serialize_str(value.as_str()),
            Scalar::Otel(other) => serializer.collect_str(other),
            Scalar::Note(note) => serializer.serialize_str(note),
        }
    }
}

/// A JSON object whose keys are each written once, the last value given for a key winning,
/// in key order.
#[derive(Debug, Default)]
struct Fields<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

impl<'a> Fields<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Sorts by key and keeps each key's last value: what a JSON object of them would say.
    fn settle(&mut self) {
        // Stable: among equal keys, the last given stays last, and is the one kept.
        self.0.sort_by(|(a, _), (b, _)| a.cmp(b));
        let mut settled: Vec<(Cow<'a, str>, Scalar<'a>)> = Vec::with_capacity(self.0.len());
        for (key, value) in self.0.drain(..) {
            match settled.last_mut() {
                Some((last, held)) if *last == key => *held = value,
                _ => settled.push((key, value)),
            }
        }
        self.0 = settled;
    }
}

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

/// X-Ray metadata, all under one namespace.
#[derive(Debug, Default, Serialize)]
struct Metadata<'a> {
    otel: Fields<'a>,
}

/// A span id as X-Ray writes it: 16 hex digits.
#[derive(Debug, Clone, Copy)]
struct Id(SpanId);

impl Default for Id {
    fn default() -> Self {
        Id(SpanId::INVALID)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex(&self.0.to_bytes()))
    }
}

fn is_false(flag: &bool) -> bool {
    !flag
}

#[derive(Debug, Serialize)]
struct Sdk<'a> {
    sdk: &'static str,
    sdk_version: &'a str,
}

#[derive(Debug, Serialize)]
struct Aws<'a> {
    xray: Sdk<'a>,
}

#[derive(Debug, Serialize)]
struct Service {
    version: &'static str,
    runtime: &'static str,
}

#[derive(Debug, Default, Serialize)]
struct HttpRequest<'a> {
    method: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ip: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "is_false")]
    x_forwarded_for: bool,
    #[serde(skip_serializing_if = "is_false")]
    traced: bool,
}

#[derive(Debug, Default, Serialize)]
struct HttpResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_length: Option<i64>,
}

impl HttpResponse {
    fn is_empty(&self) -> bool {
        self.status.is_none() && self.content_length.is_none()
    }
}

#[derive(Debug, Serialize)]
struct Sql<'a> {
    database_type: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_version: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sanitized_query: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Cow<'a, str>>,
}

#[derive(Debug, Serialize)]
struct Http<'a> {
    request: HttpRequest<'a>,
    #[serde(skip_serializing_if = "HttpResponse::is_empty")]
    response: HttpResponse,
}

#[derive(Debug, Serialize)]
struct Exception<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    message: Cow<'a, str>,
    remote: bool,
}

#[derive(Debug, Serialize)]
struct Cause<'a> {
    exceptions: Vec<Exception<'a>>,
}

/// A segment or subsegment document, borrowing what it can from its span; its members in
/// X-Ray's order for a segment document, absent and false ones left out.
#[derive(Debug, Default, Serialize)]
struct Document<'a> {
    name: String,
    id: Id,
    start_time: f64,
    end_time: f64,
    /// `subsegment` for a subsegment sent on its own.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws: Option<Aws<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<Http<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sql: Option<Sql<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    error: bool,
    #[serde(skip_serializing_if = "is_false")]
    throttle: bool,
    #[serde(skip_serializing_if = "is_false")]
    fault: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<Cause<'a>>,
    #[serde(skip_serializing_if = "Fields::is_empty")]
    annotations: Fields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subsegments: Vec<Document<'a>>,
}

/// Room for a request's segment with a few subsegments, so writing it rarely grows the buffer.
const TYPICAL_DOCUMENT_BYTES: usize = 4096;

impl Document<'_> {
    fn to_json(&self) -> String {
        let mut json = Vec::with_capacity(TYPICAL_DOCUMENT_BYTES);
        serde_json::to_writer(&mut json, self)
            .expect("a document has only string keys, and a Vec takes every byte written");
        String::from_utf8(json).expect("serde_json writes UTF-8")
    }
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

    fn document_tree<'a>(
        &'a self,
        span: &'a SpanData,
        children: &HashMap<SpanId, Vec<&'a SpanData>>,
    ) -> Document<'a> {
        let mut document = self.document(span);
        if let Some(own) = children.get(&span.span_context.span_id()) {
            document.subsegments = own
                .iter()
                .map(|child| self.document_tree(child, children))
                .collect();
        }
        document
    }

    fn document<'a>(&'a self, span: &'a SpanData) -> Document<'a> {
        let is_segment = span.span_kind == SpanKind::Server;
        let name = if is_segment {
            self.naming.name(host(span).as_deref())
        } else {
            document_name(&span.name)
        };
        let mut document = Document {
            name,
            id: Id(span.span_context.span_id()),
            start_time: seconds(span.start_time),
            end_time: seconds(span.end_time),
            ..Document::default()
        };
        if is_segment {
            document.trace_id = Some(xray_trace_id(span.span_context.trace_id()));
            document.parent_id =
                (span.parent_span_id != SpanId::INVALID).then_some(Id(span.parent_span_id));
            document.aws = Some(Aws {
                xray: Sdk {
                    sdk: "opentelemetry for rust",
                    sdk_version: &self.sdk_version,
                },
            });
            document.service = Some(Service {
                version: env!("CARGO_PKG_VERSION"),
                runtime: "rust",
            });
        }
        if span.span_kind == SpanKind::Client {
            document.namespace = Some("remote");
        }
        document.http = http_block(span);
        document.sql = sql_block(span);
        set_flags_and_cause(span, &mut document);
        set_attributes(span, &mut document);
        document
    }
}

#[cfg(test)]
mod tests {
    use super::fit::{OMITTED, fits_a_datagram};
    use super::*;
    use crate::telemetry::xray::test_spans;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::Event;
    use opentelemetry::trace::Status;
    use serde_json::{Value, json};
    use shared::ACTING_USER_HANDLE;
    use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

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
        let document = Document {
            name: "n".repeat(MAX_DATAGRAM_BYTES),
            id: Id(SpanId::from(7)),
            metadata: Some(Metadata {
                otel: Fields(vec![("k".into(), Scalar::Note("v"))]),
            }),
            ..Document::default()
        };
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
    fn trace_ids_are_written_as_shared_writes_them() {
        let trace_id = TraceId::from_hex(test_spans::TRACE).unwrap();
        assert_eq!(
            Some(xray_trace_id(trace_id)),
            shared::traces::xray_trace_id(test_spans::TRACE)
        );
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
