//! `traceparent`, `tracestate` and `baggage` as a request brings them, repeated and in any
//! casing: extraction never panics, and what is sent on parses back to the same context.

#![no_main]

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use backend::telemetry::propagation::{W3cTraceContext, parse_tracestate};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::BaggagePropagator;

const NAMES: [&str; 6] = [
    "traceparent",
    "tracestate",
    "baggage",
    "TraceParent",
    "TRACESTATE",
    "Baggage",
];

#[derive(Debug, Arbitrary)]
struct Header {
    name: u8,
    value: Vec<u8>,
}

fuzz_target!(|headers: Vec<Header>| {
    let mut map = HeaderMap::new();
    for header in &headers {
        let name = NAMES[usize::from(header.name) % NAMES.len()];
        if let Ok(value) = HeaderValue::from_bytes(&header.value) {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
        }
    }
    let extractor = HeaderExtractor(&map);
    let cx = W3cTraceContext.extract(&extractor);
    let _ = BaggagePropagator::new().extract(&extractor);

    let span_context = cx.span().span_context().clone();
    let mut sent = HeaderMap::new();
    W3cTraceContext.inject_context(&cx, &mut HeaderInjector(&mut sent));
    if span_context.is_valid() {
        let again = W3cTraceContext.extract(&HeaderExtractor(&sent));
        let again = again.span().span_context().clone();
        assert_eq!(again.trace_id(), span_context.trace_id());
        assert_eq!(again.span_id(), span_context.span_id());
        assert_eq!(again.trace_flags(), span_context.trace_flags());
        if let Some(tracestate) = sent.get("tracestate") {
            let members = parse_tracestate(&[tracestate.to_str().unwrap()]);
            assert!(members.is_some_and(|members| !members.is_empty() && members.len() <= 32));
        }
    } else {
        assert!(sent.is_empty());
    }
});
