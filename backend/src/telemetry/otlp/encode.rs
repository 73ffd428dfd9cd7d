//! OTLP's protobuf (`ExportTraceServiceRequest`) written straight from the SDK's spans: each
//! message's size is added up first, then the bytes are written once into a buffer of that size.
//!
//! Hand-written because no maintained crate encodes `SpanData` without building a second copy
//! of it: opentelemetry-proto converts every span into prost's owned structs (each key and value
//! copied into a new `String`), prost then sizes each nested message again at every level above
//! it, and the copy is freed. The tests decode what this writes with opentelemetry-proto and
//! compare it with opentelemetry-proto's own conversion.

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::telemetry::unix_nanos;

/// The resource part of every request, encoded once when the exporter learns the resource.
#[derive(Debug, Default, Clone)]
pub struct EncodedResource {
    /// The `Resource` message's bytes.
    message: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    pub fn new(resource: &Resource) -> Self {
        let attributes = resource.iter().collect::<Vec<_>>();
        let size: usize = attributes
            .iter()
            .map(|(key, value)| message_field_size(1, key_value_size(key.as_str(), value)))
            .sum();
        let mut out = Writer::with_capacity(size);
        for (key, value) in attributes {
            out.key_value(1, key.as_str(), value);
        }
        EncodedResource {
            message: out.finish(size),
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }
}

/// The body of one OTLP/HTTP protobuf export of `spans`: one `ResourceSpans`, the spans grouped
/// by instrumentation scope in the order each scope first appears.
pub fn export_request(spans: &[SpanData], resource: &EncodedResource) -> Vec<u8> {
    if spans.is_empty() {
        return Vec::new();
    }
    let groups = by_scope(spans);
    let span_sizes: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, spans)| spans.iter().map(|span| span_size(span)).collect())
        .collect();
    let scope_spans_sizes: Vec<usize> = groups
        .iter()
        .zip(&span_sizes)
        .map(|((scope, _), sizes)| scope_spans_size(scope, sizes))
        .collect();
    let resource_spans_size = message_field_size(1, resource.message.len())
        + scope_spans_sizes
            .iter()
            .map(|size| message_field_size(2, *size))
            .sum::<usize>()
        + string_field_size(3, &resource.schema_url);
    let total = message_field_size(1, resource_spans_size);

    let mut out = Writer::with_capacity(total);
    out.message_header(1, resource_spans_size);
    out.message_header(1, resource.message.len());
    out.raw(&resource.message);
    for (((scope, spans), sizes), scope_spans_size) in
        groups.iter().zip(&span_sizes).zip(&scope_spans_sizes)
    {
        out.message_header(2, *scope_spans_size);
        out.message_header(1, scope_size(scope));
        out.scope(scope);
        for (span, size) in spans.iter().zip(sizes) {
            out.message_header(2, *size);
            out.span(span);
        }
        out.string(3, scope.schema_url().unwrap_or_default());
    }
    out.string(3, &resource.schema_url);
    out.finish(total)
}

/// Scopes compared by value, in a list: a process makes spans under a handful of scopes, so a
/// linear search costs less than hashing every span's scope.
fn by_scope(spans: &[SpanData]) -> Vec<(&InstrumentationScope, Vec<&SpanData>)> {
    let mut groups: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    for span in spans {
        let scope = &span.instrumentation_scope;
        match groups.iter_mut().find(|(seen, _)| *seen == scope) {
            Some((_, members)) => members.push(span),
            None => groups.push((scope, vec![span])),
        }
    }
    groups
}

// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags`: the W3C trace flags in the low byte, then whether the parent is known to be
/// remote, and whether it is.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const CONTEXT_IS_REMOTE: u32 = 0x200;

fn span_flags(context: &SpanContext, is_remote: bool) -> u32 {
    let flags = u32::from(context.trace_flags().to_u8()) | CONTEXT_HAS_IS_REMOTE;
    if is_remote {
        flags | CONTEXT_IS_REMOTE
    } else {
        flags
    }
}

fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn status_parts(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description.as_ref()),
    }
}

fn parent_span_id(span: &SpanData) -> Option<[u8; 8]> {
    (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_bytes())
}

// Sizes, in the order the writer below writes each message's fields.

fn varint_size(value: u64) -> usize {
    // As prost computes it: one byte per 7 significant bits.
    ((((value | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

fn key_size(tag: u32) -> usize {
    varint_size(u64::from(tag << 3))
}

fn message_field_size(tag: u32, size: usize) -> usize {
    key_size(tag) + varint_size(size as u64) + size
}

/// proto3 leaves empty strings and bytes, and zero numbers, off the wire.
fn string_field_size(tag: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        message_field_size(tag, text.len())
    }
}

fn varint_field_size(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_size(tag) + varint_size(value)
    }
}

fn fixed64_field_size(tag: u32, value: u64) -> usize {
    if value == 0 { 0 } else { key_size(tag) + 8 }
}

fn fixed32_field_size(tag: u32, value: u32) -> usize {
    if value == 0 { 0 } else { key_size(tag) + 4 }
}

fn scope_spans_size(scope: &InstrumentationScope, span_sizes: &[usize]) -> usize {
    message_field_size(1, scope_size(scope))
        + span_sizes
            .iter()
            .map(|size| message_field_size(2, *size))
            .sum::<usize>()
        + string_field_size(3, scope.schema_url().unwrap_or_default())
}

fn scope_size(scope: &InstrumentationScope) -> usize {
    string_field_size(1, scope.name())
        + string_field_size(2, scope.version().unwrap_or_default())
        + attributes_size(3, scope.attributes())
}

fn attributes_size<'a>(tag: u32, attributes: impl IntoIterator<Item = &'a KeyValue>) -> usize {
    attributes
        .into_iter()
        .map(|attribute| {
            message_field_size(
                tag,
                key_value_size(attribute.key.as_str(), &attribute.value),
            )
        })
        .sum()
}

fn key_value_size(key: &str, value: &Value) -> usize {
    string_field_size(1, key) + message_field_size(2, any_value_size(value))
}

/// An `AnyValue`: its oneof is written even when it holds a default (`false`, 0, "").
fn any_value_size(value: &Value) -> usize {
    match value {
        Value::Bool(_) => BOOL_VALUE_SIZE,
        Value::I64(number) => int_value_size(*number),
        Value::F64(_) => DOUBLE_VALUE_SIZE,
        Value::String(text) => string_value_size(text),
        Value::Array(array) => message_field_size(5, array_size(array)),
        _ => 0,
    }
}

const BOOL_VALUE_SIZE: usize = 2;
const DOUBLE_VALUE_SIZE: usize = 9;

fn int_value_size(number: i64) -> usize {
    key_size(3) + varint_size(number as u64)
}

fn string_value_size(text: &StringValue) -> usize {
    message_field_size(1, text.as_str().len())
}

/// An `ArrayValue`: each element an `AnyValue` of its own.
fn array_size(array: &Array) -> usize {
    fn elements_size<T>(values: &[T], size: impl Fn(&T) -> usize) -> usize {
        values
            .iter()
            .map(|value| message_field_size(1, size(value)))
            .sum()
    }
    match array {
        Array::Bool(values) => elements_size(values, |_| BOOL_VALUE_SIZE),
        Array::I64(values) => elements_size(values, |number| int_value_size(*number)),
        Array::F64(values) => elements_size(values, |_| DOUBLE_VALUE_SIZE),
        Array::String(values) => elements_size(values, string_value_size),
        _ => 0,
    }
}

fn span_size(span: &SpanData) -> usize {
    let context = &span.span_context;
    let (code, message) = status_parts(&span.status);
    message_field_size(1, 16)
        + message_field_size(2, 8)
        + string_field_size(3, &context.trace_state().header())
        + parent_span_id(span).map_or(0, |id| message_field_size(4, id.len()))
        + fixed32_field_size(16, span_flags(context, span.parent_span_is_remote))
        + string_field_size(5, &span.name)
        + varint_field_size(6, kind_number(&span.span_kind))
        + fixed64_field_size(7, unix_nanos(span.start_time))
        + fixed64_field_size(8, unix_nanos(span.end_time))
        + attributes_size(9, &span.attributes)
        + varint_field_size(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .events
            .iter()
            .map(|event| message_field_size(11, event_size(event)))
            .sum::<usize>()
        + varint_field_size(12, u64::from(span.events.dropped_count))
        + span
            .links
            .links
            .iter()
            .map(|link| message_field_size(13, link_size(link)))
            .sum::<usize>()
        + varint_field_size(14, u64::from(span.links.dropped_count))
        + message_field_size(15, status_size(code, message))
}

fn event_size(event: &opentelemetry::trace::Event) -> usize {
    fixed64_field_size(1, unix_nanos(event.timestamp))
        + string_field_size(2, &event.name)
        + attributes_size(3, &event.attributes)
        + varint_field_size(4, u64::from(event.dropped_attributes_count))
}

fn link_size(link: &opentelemetry::trace::Link) -> usize {
    let context = &link.span_context;
    message_field_size(1, 16)
        + message_field_size(2, 8)
        + string_field_size(3, &context.trace_state().header())
        + attributes_size(4, &link.attributes)
        + varint_field_size(5, u64::from(link.dropped_attributes_count))
        + fixed32_field_size(6, span_flags(context, context.is_remote()))
}

fn status_size(code: u64, message: &str) -> usize {
    string_field_size(2, message) + varint_field_size(3, code)
}

/// Writes fields into a buffer sized beforehand; each method mirrors a size function above.
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn with_capacity(size: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(size),
        }
    }

    fn finish(self, size: usize) -> Vec<u8> {
        debug_assert_eq!(
            self.bytes.len(),
            size,
            "a size function and its writer differ"
        );
        self.bytes
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, tag: u32, wire_type: u32) {
        self.varint(u64::from(tag << 3 | wire_type));
    }

    fn message_header(&mut self, tag: u32, size: usize) {
        self.key(tag, LENGTH_DELIMITED);
        self.varint(size as u64);
    }

    fn bytes_field(&mut self, tag: u32, bytes: &[u8]) {
        self.message_header(tag, bytes.len());
        self.raw(bytes);
    }

    fn string(&mut self, tag: u32, text: &str) {
        if !text.is_empty() {
            self.bytes_field(tag, text.as_bytes());
        }
    }

    fn varint_field(&mut self, tag: u32, value: u64) {
        if value != 0 {
            self.key(tag, VARINT);
            self.varint(value);
        }
    }

    fn fixed64(&mut self, tag: u32, value: u64) {
        if value != 0 {
            self.key(tag, FIXED64);
            self.raw(&value.to_le_bytes());
        }
    }

    fn fixed32(&mut self, tag: u32, value: u32) {
        if value != 0 {
            self.key(tag, FIXED32);
            self.raw(&value.to_le_bytes());
        }
    }

    fn scope(&mut self, scope: &InstrumentationScope) {
        self.string(1, scope.name());
        self.string(2, scope.version().unwrap_or_default());
        self.attributes(3, scope.attributes());
    }

    fn attributes<'a>(&mut self, tag: u32, attributes: impl IntoIterator<Item = &'a KeyValue>) {
        for attribute in attributes {
            self.key_value(tag, attribute.key.as_str(), &attribute.value);
        }
    }

    fn key_value(&mut self, tag: u32, key: &str, value: &Value) {
        self.message_header(tag, key_value_size(key, value));
        self.string(1, key);
        self.message_header(2, any_value_size(value));
        self.any_value(value);
    }

    fn any_value(&mut self, value: &Value) {
        match value {
            Value::Bool(flag) => self.bool_value(*flag),
            Value::I64(number) => self.int_value(*number),
            Value::F64(number) => self.double_value(*number),
            Value::String(text) => self.string_value(text),
            Value::Array(array) => {
                self.message_header(5, array_size(array));
                self.array(array);
            }
            _ => {}
        }
    }

    fn bool_value(&mut self, flag: bool) {
        self.key(2, VARINT);
        self.varint(u64::from(flag));
    }

    fn int_value(&mut self, number: i64) {
        self.key(3, VARINT);
        self.varint(number as u64);
    }

    fn double_value(&mut self, number: f64) {
        self.key(4, FIXED64);
        self.raw(&number.to_le_bytes());
    }

    /// Written even when empty, unlike a string field.
    fn string_value(&mut self, text: &StringValue) {
        self.bytes_field(1, text.as_str().as_bytes());
    }

    fn array(&mut self, array: &Array) {
        match array {
            Array::Bool(values) => {
                self.elements(
                    values,
                    |_| BOOL_VALUE_SIZE,
                    |out, flag| out.bool_value(*flag),
                );
            }
            Array::I64(values) => self.elements(
                values,
                |number| int_value_size(*number),
                |out, number| out.int_value(*number),
            ),
            Array::F64(values) => self.elements(
                values,
                |_| DOUBLE_VALUE_SIZE,
                |out, number| out.double_value(*number),
            ),
            Array::String(values) => {
                self.elements(values, string_value_size, |out, text| {
                    out.string_value(text)
                });
            }
            _ => {}
        }
    }

    fn elements<T>(
        &mut self,
        values: &[T],
        size: impl Fn(&T) -> usize,
        write: impl Fn(&mut Self, &T),
    ) {
        for value in values {
            self.message_header(1, size(value));
            write(self, value);
        }
    }

    fn span(&mut self, span: &SpanData) {
        let context = &span.span_context;
        self.bytes_field(1, &context.trace_id().to_bytes());
        self.bytes_field(2, &context.span_id().to_bytes());
        self.string(3, &context.trace_state().header());
        if let Some(parent) = parent_span_id(span) {
            self.bytes_field(4, &parent);
        }
        self.fixed32(16, span_flags(context, span.parent_span_is_remote));
        self.string(5, &span.name);
        self.varint_field(6, kind_number(&span.span_kind));
        self.fixed64(7, unix_nanos(span.start_time));
        self.fixed64(8, unix_nanos(span.end_time));
        self.attributes(9, &span.attributes);
        self.varint_field(10, u64::from(span.dropped_attributes_count));
        for event in &span.events.events {
            self.message_header(11, event_size(event));
            self.fixed64(1, unix_nanos(event.timestamp));
            self.string(2, &event.name);
            self.attributes(3, &event.attributes);
            self.varint_field(4, u64::from(event.dropped_attributes_count));
        }
        self.varint_field(12, u64::from(span.events.dropped_count));
        for link in &span.links.links {
            let context = &link.span_context;
            self.message_header(13, link_size(link));
            self.bytes_field(1, &context.trace_id().to_bytes());
            self.bytes_field(2, &context.span_id().to_bytes());
            self.string(3, &context.trace_state().header());
            self.attributes(4, &link.attributes);
            self.varint_field(5, u64::from(link.dropped_attributes_count));
            self.fixed32(6, span_flags(context, context.is_remote()));
        }
        self.varint_field(14, u64::from(span.links.dropped_count));
        let (code, message) = status_parts(&span.status);
        self.message_header(15, status_size(code, message));
        self.string(2, message);
        self.varint_field(3, code);
    }
}

#[cfg(test)]
mod tests;
