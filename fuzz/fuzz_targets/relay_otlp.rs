//! A body posted to the relay, as protobuf and as JSON, through the relay's steps: the span
//! count that runs before decoding, decoding, the limits, and encoding for the endpoint. None
//! panics; an export that is counted and decodes was counted exactly, and holds to the limits
//! once enforced.

#![no_main]

use backend::relay::limits::{
    OtlpLimits, count_json_spans, count_protobuf_spans, enforce,
};
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fn spans(export: &ExportTraceServiceRequest) -> usize {
    export
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum()
}

fn relay(counted: Option<usize>, decoded: Option<ExportTraceServiceRequest>) {
    let limits = OtlpLimits::default();
    // What can't be counted is refused before decoding (protobuf's deprecated groups, say,
    // which prost skips): stricter than the decoder, never looser.
    let (Some(counted), Some(mut export)) = (counted, decoded) else {
        return;
    };
    assert_eq!(
        counted,
        spans(&export),
        "the count before decoding is the spans decoded"
    );
    if counted > limits.max_spans {
        return;
    }
    enforce(&mut export, &limits, "cruddur-frontend");
    for span in export
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
    {
        assert!(span.attributes.len() <= limits.max_attributes);
        assert!(span.events.len() <= limits.max_events);
        assert!(span.links.len() <= limits.max_links);
    }
    let _ = export.encode_to_vec();
}

fuzz_target!(|body: &[u8]| {
    relay(
        count_protobuf_spans(body),
        ExportTraceServiceRequest::decode(body).ok(),
    );
    relay(count_json_spans(body), serde_json::from_slice(body).ok());
});
