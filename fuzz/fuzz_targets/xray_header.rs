//! `X-Amzn-Trace-Id` as a request brings it: parsing never panics, and a context it yields is
//! one the request can continue.

#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use backend::telemetry::xray::{X_AMZN_TRACE_ID, incoming_trace};
use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::TraceId;

fuzz_target!(|value: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(X_AMZN_TRACE_ID, value);
    if let Some((context, _decision)) = incoming_trace(&headers) {
        assert_ne!(context.trace_id(), TraceId::INVALID);
        assert!(context.is_remote());
    }
});
