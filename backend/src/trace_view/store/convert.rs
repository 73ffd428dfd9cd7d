//! Spans into what the store keeps, and what it keeps into the view's spans: the browser's
//! from OTLP, the backend's own as a trip through OTLP would leave them.

use opentelemetry::trace::{SpanId as OtelSpanId, SpanKind as OtelSpanKind, Status as OtelStatus};
use opentelemetry::{Array, KeyValue as OtelKeyValue, Value as OtelValue};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_sdk::trace::SpanData;
use shared::traces::{self, Attribute, SpanEvent, SpanStatus, SpanView};

use super::{SpanId, StoredSpan};
use crate::trace_format::{hex, unix_nanos};

pub(super) fn stored_span(span: &Span, span_id: SpanId, resource: u32) -> StoredSpan {
    let status = span.status.as_ref();
    StoredSpan {
        span_id,
        parent_span_id: SpanId::try_from(span.parent_span_id.as_slice()).ok(),
        name: span.name.clone(),
        kind: match SpanKind::try_from(span.kind) {
            Ok(SpanKind::Server) => traces::SpanKind::Server,
            Ok(SpanKind::Client) => traces::SpanKind::Client,
            Ok(SpanKind::Producer) => traces::SpanKind::Producer,
            Ok(SpanKind::Consumer) => traces::SpanKind::Consumer,
            _ => traces::SpanKind::Internal,
        },
        status: match status.map(|status| StatusCode::try_from(status.code)) {
            Some(Ok(StatusCode::Error)) => SpanStatus::Error,
            Some(Ok(StatusCode::Ok)) => SpanStatus::Ok,
            _ => SpanStatus::Unset,
        },
        status_message: status
            .map(|status| status.message.clone())
            .unwrap_or_default(),
        start_unix_micros: span.start_time_unix_nano / 1000,
        duration_micros: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
            / 1000,
        attributes: attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.clone(),
                time_unix_micros: event.time_unix_nano / 1000,
                attributes: attributes(&event.attributes),
            })
            .collect(),
        resource,
    }
}

/// The backend's own span as `stored_span` would keep it after a trip through OTLP.
pub(super) fn own_stored_span(span: &SpanData, resource: u32) -> StoredSpan {
    let (status, status_message) = match &span.status {
        OtelStatus::Error { description } => (SpanStatus::Error, description.to_string()),
        OtelStatus::Ok => (SpanStatus::Ok, String::new()),
        OtelStatus::Unset => (SpanStatus::Unset, String::new()),
    };
    let start = unix_nanos(span.start_time);
    StoredSpan {
        span_id: span.span_context.span_id().to_bytes(),
        parent_span_id: (span.parent_span_id != OtelSpanId::INVALID)
            .then(|| span.parent_span_id.to_bytes()),
        name: span.name.to_string(),
        kind: match span.span_kind {
            OtelSpanKind::Server => traces::SpanKind::Server,
            OtelSpanKind::Client => traces::SpanKind::Client,
            OtelSpanKind::Producer => traces::SpanKind::Producer,
            OtelSpanKind::Consumer => traces::SpanKind::Consumer,
            OtelSpanKind::Internal => traces::SpanKind::Internal,
        },
        status,
        status_message,
        start_unix_micros: start / 1000,
        duration_micros: unix_nanos(span.end_time).saturating_sub(start) / 1000,
        attributes: own_attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.to_string(),
                time_unix_micros: unix_nanos(event.timestamp) / 1000,
                attributes: own_attributes(&event.attributes),
            })
            .collect(),
        resource,
    }
}

pub(super) fn own_attributes(attributes: &[OtelKeyValue]) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|attribute| Attribute {
            key: attribute.key.as_str().to_owned(),
            value: own_text(&attribute.value),
        })
        .collect()
}

/// What `text` makes of the value once OTLP has carried it.
pub(super) fn own_text(value: &OtelValue) -> String {
    fn list<T: ToString>(values: &[T]) -> String {
        let texts: Vec<String> = values.iter().map(ToString::to_string).collect();
        format!("[{}]", texts.join(", "))
    }
    match value {
        OtelValue::String(text) => text.as_str().to_owned(),
        // What `to_string` writes, without the formatter: every request has a few of each.
        OtelValue::Bool(value) => if *value { "true" } else { "false" }.to_owned(),
        OtelValue::I64(value) => itoa::Buffer::new().format(*value).to_owned(),
        OtelValue::F64(value) => value.to_string(),
        OtelValue::Array(Array::Bool(values)) => list(values),
        OtelValue::Array(Array::I64(values)) => list(values),
        OtelValue::Array(Array::F64(values)) => list(values),
        OtelValue::Array(Array::String(values)) => list(values),
        other => other.to_string(),
    }
}

pub(super) fn span_view(span: &StoredSpan) -> SpanView {
    SpanView {
        span_id: hex(&span.span_id),
        parent_span_id: span.parent_span_id.map(|parent| hex(&parent)),
        name: span.name.clone(),
        kind: span.kind,
        resource: span.resource as usize,
        start_unix_micros: span.start_unix_micros,
        duration_micros: span.duration_micros,
        status: span.status,
        status_message: span.status_message.clone(),
        attributes: span.attributes.clone(),
        events: span.events.clone(),
    }
}

pub(super) fn attributes<'a>(attributes: impl IntoIterator<Item = &'a KeyValue>) -> Vec<Attribute> {
    attributes
        .into_iter()
        .map(|attribute| Attribute {
            key: attribute.key.clone(),
            value: text(attribute.value.as_ref()),
        })
        .collect()
}

pub(super) fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::BoolValue(value)) => value.to_string(),
        Some(Value::IntValue(value)) => value.to_string(),
        Some(Value::DoubleValue(value)) => value.to_string(),
        Some(Value::ArrayValue(array)) => format!(
            "[{}]",
            array
                .values
                .iter()
                .map(|value| text(Some(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Value::BytesValue(bytes)) => hex(bytes),
        Some(Value::KvlistValue(list)) => format!(
            "{{{}}}",
            list.values
                .iter()
                .map(|pair| format!("{}: {}", pair.key, text(pair.value.as_ref())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        // A string-table index means nothing without its table (OTLP profiles only).
        Some(Value::StringValueStrindex(_)) | None => String::new(),
    }
}
