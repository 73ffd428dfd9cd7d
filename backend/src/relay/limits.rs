//! What the relay does to an OTLP export from a browser before it costs anything: count its
//! spans without decoding them, then, once decoded, apply the OpenTelemetry attribute limits
//! and the frontend's identity.
//!
//! The protobuf count walks the wire format by hand: prost only decodes whole messages, and
//! counting by decoding would spend the very memory the count exists to protect.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::telemetry::fan_out::truncate_at_char_boundary;

/// The limits an accepted export is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtlpLimits {
    /// Spans in one export; more is refused whole.
    pub max_spans: usize,
    /// Attributes per span, per event, per link, per scope and per resource; the rest are
    /// dropped and counted in `dropped_attributes_count`, as the SDKs do.
    pub max_attributes: usize,
    pub max_events: usize,
    pub max_links: usize,
    /// Bytes of a string or bytes value (each element of an array or map counts on its own);
    /// longer values are truncated, strings at a character boundary.
    pub max_value_bytes: usize,
}

impl Default for OtlpLimits {
    fn default() -> Self {
        OtlpLimits {
            max_spans: 2_000,
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_value_bytes: 4_096,
        }
    }
}

/// The spans an OTLP/HTTP protobuf body holds, or None when it is not well-formed protobuf.
/// Linear in the body and allocation-free: only the three levels down to the spans are read.
pub fn count_protobuf_spans(body: &[u8]) -> Option<usize> {
    // ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2,
    // ScopeSpans.spans = 2.
    let mut spans = 0usize;
    for resource_spans in fields(body, 1) {
        for scope_spans in fields(resource_spans?, 2) {
            for span in fields(scope_spans?, 2) {
                span?;
                spans += 1;
            }
        }
    }
    Some(spans)
}

/// The length-delimited fields numbered `wanted` in a protobuf message, in order; an `Err`
/// item (as None) ends the walk when the message is malformed.
fn fields(message: &[u8], wanted: u64) -> impl Iterator<Item = Option<&[u8]>> {
    let mut rest = message;
    let mut failed = false;
    std::iter::from_fn(move || {
        while !failed && !rest.is_empty() {
            let Some(key) = varint(&mut rest) else {
                failed = true;
                return Some(None);
            };
            let (number, wire_type) = (key >> 3, key & 7);
            let field = match wire_type {
                0 => varint(&mut rest).map(|_| None),
                1 => take(&mut rest, 8).map(|_| None),
                2 => varint(&mut rest)
                    .and_then(|length| usize::try_from(length).ok())
                    .and_then(|length| take(&mut rest, length))
                    .map(Some),
                5 => take(&mut rest, 4).map(|_| None),
                // Groups (3, 4) are deprecated and never used by OTLP.
                _ => None,
            };
            match field {
                None => {
                    failed = true;
                    return Some(None);
                }
                Some(Some(bytes)) if number == wanted => return Some(Some(bytes)),
                Some(_) => {}
            }
        }
        None
    })
}

fn varint(buffer: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buffer.split_first()?;
        *buffer = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(buffer: &mut &'a [u8], length: usize) -> Option<&'a [u8]> {
    if buffer.len() < length {
        return None;
    }
    let (taken, rest) = buffer.split_at(length);
    *buffer = rest;
    Some(taken)
}

/// The spans an OTLP/HTTP JSON body holds, or None when it is not an OTLP export's shape.
/// Each span is skipped over, never built.
pub fn count_json_spans(body: &[u8]) -> Option<usize> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Export {
        #[serde(default)]
        resource_spans: Vec<ResourceSpans>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ResourceSpans {
        #[serde(default)]
        scope_spans: Vec<ScopeSpans>,
    }
    #[derive(Deserialize)]
    struct ScopeSpans {
        #[serde(default)]
        spans: Vec<IgnoredAny>,
    }
    let export: Export = serde_json::from_slice(body).ok()?;
    Some(
        export
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum(),
    )
}

/// What applying the limits changed, for the relay's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub attributes_dropped: u64,
    pub values_truncated: u64,
    pub events_dropped: u64,
    pub links_dropped: u64,
    /// SERVER and CONSUMER spans made INTERNAL: a browser receives no requests, so such a
    /// span can only pretend to be a server's.
    pub kinds_rewritten: u64,
}

/// Holds every span, event, link, scope and resource of `export` to `limits`, and makes every
/// resource the frontend's: `service.name` is `service_name` whatever the browser said, and
/// `cruddur.relayed` is true.
pub fn enforce(
    export: &mut ExportTraceServiceRequest,
    limits: &OtlpLimits,
    service_name: &str,
) -> Trimmed {
    let mut trimmed = Trimmed::default();
    for resource_spans in &mut export.resource_spans {
        let resource = resource_spans.resource.get_or_insert_with(Default::default);
        resource.attributes.retain(|attribute| {
            attribute.key != "service.name" && attribute.key != "cruddur.relayed"
        });
        // Two places kept for the relay's own attributes.
        let browser_limit = limits.max_attributes.saturating_sub(2);
        trimmed.trim_attributes(
            &mut resource.attributes,
            &mut resource.dropped_attributes_count,
            browser_limit,
            limits.max_value_bytes,
        );
        resource
            .attributes
            .insert(0, string_attribute("service.name", service_name));
        // Last, so the browser's own resource attributes keep their order after service.name.
        resource.attributes.push(KeyValue {
            key: "cruddur.relayed".to_owned(),
            value: Some(AnyValue {
                value: Some(Value::BoolValue(true)),
            }),
            ..Default::default()
        });
        for scope_spans in &mut resource_spans.scope_spans {
            if let Some(scope) = &mut scope_spans.scope {
                trimmed.trim_attributes_to(
                    &mut scope.attributes,
                    &mut scope.dropped_attributes_count,
                    limits,
                );
            }
            for span in &mut scope_spans.spans {
                trimmed.trim_attributes_to(
                    &mut span.attributes,
                    &mut span.dropped_attributes_count,
                    limits,
                );
                trimmed.events_dropped += trim_list(
                    &mut span.events,
                    &mut span.dropped_events_count,
                    limits.max_events,
                );
                for event in &mut span.events {
                    trimmed.trim_attributes_to(
                        &mut event.attributes,
                        &mut event.dropped_attributes_count,
                        limits,
                    );
                }
                trimmed.links_dropped += trim_list(
                    &mut span.links,
                    &mut span.dropped_links_count,
                    limits.max_links,
                );
                for link in &mut span.links {
                    trimmed.trim_attributes_to(
                        &mut link.attributes,
                        &mut link.dropped_attributes_count,
                        limits,
                    );
                }
                if span.kind == SpanKind::Server as i32 || span.kind == SpanKind::Consumer as i32 {
                    span.kind = SpanKind::Internal as i32;
                    trimmed.kinds_rewritten += 1;
                }
            }
        }
    }
    trimmed
}

/// Keeps the first `max` items, adds what it drops to the OTLP `dropped_count`, and returns it.
fn trim_list<T>(items: &mut Vec<T>, dropped_count: &mut u32, max: usize) -> u64 {
    let dropped = u32::try_from(items.len().saturating_sub(max)).unwrap_or(u32::MAX);
    items.truncate(max);
    *dropped_count = dropped_count.saturating_add(dropped);
    u64::from(dropped)
}

impl Trimmed {
    fn trim_attributes_to(
        &mut self,
        attributes: &mut Vec<KeyValue>,
        dropped_count: &mut u32,
        limits: &OtlpLimits,
    ) {
        self.trim_attributes(
            attributes,
            dropped_count,
            limits.max_attributes,
            limits.max_value_bytes,
        );
    }

    /// Keeps the first `max` attributes and truncates their values.
    fn trim_attributes(
        &mut self,
        attributes: &mut Vec<KeyValue>,
        dropped_count: &mut u32,
        max: usize,
        max_value_bytes: usize,
    ) {
        self.attributes_dropped += trim_list(attributes, dropped_count, max);
        for attribute in attributes.iter_mut() {
            if let Some(value) = &mut attribute.value {
                truncate_value(value, max_value_bytes, self);
            }
        }
    }
}

fn truncate_value(value: &mut AnyValue, max_bytes: usize, trimmed: &mut Trimmed) {
    match &mut value.value {
        Some(Value::StringValue(text)) if text.len() > max_bytes => {
            let kept = truncate_at_char_boundary(text, max_bytes).len();
            text.truncate(kept);
            trimmed.values_truncated += 1;
        }
        Some(Value::BytesValue(bytes)) if bytes.len() > max_bytes => {
            bytes.truncate(max_bytes);
            trimmed.values_truncated += 1;
        }
        Some(Value::ArrayValue(array)) => {
            for element in &mut array.values {
                truncate_value(element, max_bytes, trimmed);
            }
        }
        Some(Value::KvlistValue(list)) => {
            for entry in &mut list.values {
                if let Some(value) = &mut entry.value {
                    truncate_value(value, max_bytes, trimmed);
                }
            }
        }
        _ => {}
    }
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    fn export(resources: usize, scopes: usize, spans: usize) -> ExportTraceServiceRequest {
        let span = Span {
            name: "click".into(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![string_attribute("service.name", "cruddur-backend")],
                        ..Default::default()
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            spans: vec![span; spans],
                            ..Default::default()
                        };
                        scopes
                    ],
                    ..Default::default()
                };
                resources
            ],
        }
    }

    fn attributes(count: usize, value: &str) -> Vec<KeyValue> {
        (0..count)
            .map(|index| string_attribute(&format!("key.{index}"), value))
            .collect()
    }

    fn string(value: &AnyValue) -> &str {
        match &value.value {
            Some(Value::StringValue(text)) => text,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn spans_are_counted_in_protobuf_and_json_alike() {
        let export = export(3, 2, 5);
        assert_eq!(count_protobuf_spans(&export.encode_to_vec()), Some(30));
        let json = serde_json::to_vec(&export).unwrap();
        assert_eq!(count_json_spans(&json), Some(30));
    }

    #[test]
    fn an_empty_body_holds_no_spans() {
        assert_eq!(count_protobuf_spans(&[]), Some(0));
        assert_eq!(count_json_spans(b"{}"), Some(0));
    }

    #[test]
    fn truncated_or_garbled_protobuf_is_not_counted() {
        let bytes = export(1, 1, 3).encode_to_vec();
        assert_eq!(count_protobuf_spans(&bytes[..bytes.len() - 1]), None);
        assert_eq!(count_protobuf_spans(&[0x0a, 0xff]), None);
        assert_eq!(count_protobuf_spans(&[0xff; 11]), None);
        assert_eq!(count_json_spans(b"{\"resourceSpans\": 3}"), None);
    }

    #[test]
    fn the_browser_cannot_claim_another_service() {
        let mut export = export(1, 1, 1);
        enforce(&mut export, &OtlpLimits::default(), "cruddur-frontend");
        let resource = export.resource_spans[0].resource.as_ref().unwrap();
        let names: Vec<_> = resource
            .attributes
            .iter()
            .filter(|attribute| attribute.key == "service.name")
            .map(|attribute| string(attribute.value.as_ref().unwrap()))
            .collect();
        assert_eq!(names, ["cruddur-frontend"]);
        let relayed = resource
            .attributes
            .iter()
            .find(|attribute| attribute.key == "cruddur.relayed")
            .and_then(|attribute| attribute.value.as_ref())
            .and_then(|value| value.value.clone());
        assert_eq!(relayed, Some(Value::BoolValue(true)));
    }

    #[test]
    fn server_and_consumer_spans_from_the_browser_become_internal() {
        let mut export = export(1, 1, 3);
        let spans = &mut export.resource_spans[0].scope_spans[0].spans;
        spans[0].kind = SpanKind::Server as i32;
        spans[1].kind = SpanKind::Consumer as i32;
        spans[2].kind = SpanKind::Client as i32;
        let trimmed = enforce(&mut export, &OtlpLimits::default(), "cruddur-frontend");
        let kinds: Vec<_> = export.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|span| span.kind)
            .collect();
        let internal = SpanKind::Internal as i32;
        assert_eq!(kinds, [internal, internal, SpanKind::Client as i32]);
        assert_eq!(trimmed.kinds_rewritten, 2);
    }

    #[test]
    fn attributes_events_and_links_past_their_limits_are_dropped_and_counted() {
        let limits = OtlpLimits::default();
        let mut export = export(1, 1, 1);
        export.resource_spans[0]
            .resource
            .as_mut()
            .unwrap()
            .attributes = attributes(300, "v");
        let span = &mut export.resource_spans[0].scope_spans[0].spans[0];
        span.attributes = attributes(200, "v");
        span.events = vec![
            Event {
                name: "e".into(),
                attributes: attributes(130, "v"),
                ..Default::default()
            };
            150
        ];
        span.links = vec![Link::default(); 129];

        let trimmed = enforce(&mut export, &limits, "cruddur-frontend");

        let resource = export.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(resource.attributes.len(), 128);
        assert_eq!(resource.dropped_attributes_count, 300 - 126);
        let span = &export.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.attributes.len(), 128);
        assert_eq!(span.dropped_attributes_count, 72);
        assert_eq!(span.events.len(), 128);
        assert_eq!(span.dropped_events_count, 22);
        assert!(
            span.events
                .iter()
                .all(|event| event.attributes.len() == 128 && event.dropped_attributes_count == 2)
        );
        assert_eq!(span.links.len(), 128);
        assert_eq!(span.dropped_links_count, 1);
        assert_eq!(trimmed.events_dropped, 22);
        assert_eq!(trimmed.links_dropped, 1);
        assert_eq!(trimmed.attributes_dropped, (300 - 126) + 72 + 128 * 2);
    }

    #[test]
    fn long_values_are_truncated_at_a_character_boundary() {
        let limits = OtlpLimits {
            max_value_bytes: 5,
            ..OtlpLimits::default()
        };
        let mut export = export(1, 1, 1);
        let span = &mut export.resource_spans[0].scope_spans[0].spans[0];
        span.attributes = vec![
            string_attribute("ascii", "abcdefgh"),
            string_attribute("accented", "ééé"),
            string_attribute("short", "abc"),
        ];
        let trimmed = enforce(&mut export, &limits, "cruddur-frontend");
        let span = &export.resource_spans[0].scope_spans[0].spans[0];
        let values: Vec<_> = span
            .attributes
            .iter()
            .map(|attribute| string(attribute.value.as_ref().unwrap()))
            .collect();
        assert_eq!(values, ["abcde", "éé", "abc"]);
        assert_eq!(trimmed.values_truncated, 2);
    }

    /// The properties the `relay_otlp` fuzz target searches for at length.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn decoded_spans(export: &ExportTraceServiceRequest) -> usize {
            export
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum()
        }

        /// Found by the `relay_otlp` fuzz target: prost skips an unknown field in protobuf's
        /// deprecated group encoding, the count refuses it. Refusing is the safe direction.
        #[test]
        fn group_encoded_fields_are_refused_though_prost_would_skip_them() {
            let body = [0x5b, 0x5c, 0x20, 0x7a];
            assert!(ExportTraceServiceRequest::decode(body.as_slice()).is_ok());
            assert_eq!(count_protobuf_spans(&body), None);
        }

        proptest! {
            #[test]
            fn a_protobuf_count_is_exact_whenever_the_body_decodes(body in prop::collection::vec(any::<u8>(), 0..512)) {
                if let (Some(counted), Ok(export)) = (
                    count_protobuf_spans(&body),
                    ExportTraceServiceRequest::decode(body.as_slice()),
                ) {
                    prop_assert_eq!(counted, decoded_spans(&export));
                }
            }

            #[test]
            fn exports_of_any_shape_are_counted_exactly(
                shape in prop::collection::vec(prop::collection::vec(0usize..4, 0..4), 0..4),
            ) {
                let export = ExportTraceServiceRequest {
                    resource_spans: shape
                        .iter()
                        .map(|scopes| ResourceSpans {
                            scope_spans: scopes
                                .iter()
                                .map(|spans| ScopeSpans {
                                    spans: vec![Span::default(); *spans],
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                };
                let spans = decoded_spans(&export);
                prop_assert_eq!(count_protobuf_spans(&export.encode_to_vec()), Some(spans));
                let json = serde_json::to_vec(&export).unwrap();
                prop_assert_eq!(count_json_spans(&json), Some(spans));
            }

            #[test]
            fn any_text_as_json_is_counted_or_refused_never_a_panic(body in any::<String>()) {
                let _ = count_json_spans(body.as_bytes());
            }
        }
    }
}
