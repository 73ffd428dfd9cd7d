//! What a span's attributes become in its document: the `sql` and `http` blocks, the
//! error, throttle and fault flags with their cause, and the rest as annotations and metadata.

use std::borrow::Cow;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value as OtelValue};
use opentelemetry_sdk::trace::SpanData;

use super::{
    ANNOTATION_PREFIX, Cause, Document, Exception, Fields, Http, HttpRequest, HttpResponse,
    MAX_ANNOTATIONS, Metadata, Scalar, Sql, annotation_key, host, integer, text,
};

/// A database call's `sql` block, from the database conventions and the two attributes the
/// repository adds for what they have no name for (the version and the URL, credentials off).
pub(super) fn sql_block(span: &SpanData) -> Option<Sql<'_>> {
    Some(Sql {
        database_type: text(span, "db.system.name")?,
        database_version: text(span, "cruddur.db.version"),
        sanitized_query: text(span, "db.query.text"),
        url: text(span, "cruddur.db.url"),
    })
}

pub(super) fn http_block(span: &SpanData) -> Option<Http<'_>> {
    let mut request = HttpRequest {
        method: text(span, "http.request.method")?,
        ..HttpRequest::default()
    };
    match span.span_kind {
        SpanKind::Server => {
            if let Some(host) = host(span) {
                let scheme = text(span, "url.scheme").unwrap_or(Cow::Borrowed("http"));
                let path = text(span, "url.path").unwrap_or(Cow::Borrowed("/"));
                let url = match text(span, "url.query") {
                    Some(query) => format!("{scheme}://{host}{path}?{query}"),
                    None => format!("{scheme}://{host}{path}"),
                };
                request.url = Some(Cow::Owned(url));
            }
            request.user_agent = text(span, "user_agent.original");
            if let Some(client) = text(span, "client.address") {
                let peer = text(span, "network.peer.address");
                request.x_forwarded_for = peer.is_some_and(|peer| peer != client);
                request.client_ip = Some(client);
            }
        }
        _ => {
            request.url = text(span, "url.full");
            // The call carried `traceparent`: the service called continues this trace.
            request.traced = true;
        }
    }
    let response = HttpResponse {
        status: integer(span, "http.response.status_code"),
        content_length: integer(span, "http.response.body.size"),
    };
    Some(Http { request, response })
}

/// `error` on 4xx, `throttle` too on 429, `fault` on 5xx or a failed span without a status;
/// `cause` with the span's exceptions, or the failure itself when it recorded none.
pub(super) fn set_flags_and_cause<'a>(span: &'a SpanData, document: &mut Document<'a>) {
    let status = integer(span, "http.response.status_code");
    let failed = matches!(span.status, Status::Error { .. });
    (document.error, document.throttle, document.fault) = match status {
        Some(429) => (true, true, false),
        Some(400..=499) => (true, false, false),
        Some(500..) => (false, false, true),
        _ => (false, false, failed),
    };
    if !(document.fault || document.error) {
        return;
    }
    let remote = span.span_kind == SpanKind::Client;
    let mut exceptions: Vec<Exception<'a>> = span
        .events
        .iter()
        .filter(|event| event.name == "exception")
        .map(|event| {
            let field = |key: &str| {
                event
                    .attributes
                    .iter()
                    .find(|attribute| attribute.key.as_str() == key)
                    .map(|attribute| attribute.value.as_str())
            };
            Exception {
                id: exception_id(),
                kind: field("exception.type").unwrap_or(Cow::Borrowed("error")),
                message: field("exception.message").unwrap_or_default(),
                remote,
            }
        })
        .collect();
    if exceptions.is_empty() && document.fault {
        let message = match &span.status {
            Status::Error { description } if !description.is_empty() => {
                Cow::Borrowed(description.as_ref())
            }
            _ => Cow::Owned(
                status.map_or_else(|| "failed".to_owned(), |status| format!("HTTP {status}")),
            ),
        };
        exceptions.push(Exception {
            id: exception_id(),
            kind: text(span, "error.type").unwrap_or(Cow::Borrowed("error")),
            message,
            remote,
        });
    }
    if !exceptions.is_empty() {
        document.cause = Some(Cause { exceptions });
    }
}

fn exception_id() -> String {
    let id: u64 = rand::random();
    format!("{id:016x}")
}

pub(super) fn set_attributes<'a>(span: &'a SpanData, document: &mut Document<'a>) {
    let mut annotations = Fields::default();
    let mut metadata = Fields::default();
    for KeyValue { key, value, .. } in &span.attributes {
        let indexable = matches!(
            value,
            OtelValue::Bool(_) | OtelValue::I64(_) | OtelValue::F64(_) | OtelValue::String(_)
        );
        if key.as_str().starts_with(ANNOTATION_PREFIX) && indexable {
            // The limit counts distinct keys: a key given again replaces its value.
            if annotations.len() >= MAX_ANNOTATIONS {
                annotations.settle();
            }
            if annotations.len() < MAX_ANNOTATIONS {
                annotations
                    .0
                    .push((annotation_key(key.as_str()), Scalar::Otel(value)));
                continue;
            }
        }
        metadata
            .0
            .push((Cow::Borrowed(key.as_str()), Scalar::Otel(value)));
    }
    annotations.settle();
    metadata.settle();
    document.annotations = annotations;
    if !metadata.is_empty() {
        document.metadata = Some(Metadata { otel: metadata });
    }
}
