//! Finished spans wait in a bounded buffer and go to the backend's relay as OTLP protobuf, with
//! `fetch`: every few seconds, and at once when the page is hidden or left, with `keepalive`
//! so a closing page's spans still arrive. The key is added by the relay, never here.

use std::cell::RefCell;
use std::time::Duration;

use leptos::prelude::set_interval;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use shared::FRONTEND_SERVICE_NAME;

use crate::http;

/// Spans kept while the relay cannot be reached; past this, new ones are dropped.
const MAX_BUFFERED_SPANS: usize = 2048;
const SPANS_PER_REQUEST: usize = 200;
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Browsers refuse `keepalive` requests once their bodies in flight pass 64 KiB.
const KEEPALIVE_MAX_BYTES: usize = 60 * 1024;

struct Relay {
    url: String,
    resource: Resource,
}

thread_local! {
    static FINISHED: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
    static RELAY: RefCell<Option<Relay>> = const { RefCell::new(None) };
}

/// Keeps a finished span until the next flush.
pub fn record(span: Span) {
    FINISHED.with_borrow_mut(|finished| {
        if finished.len() < MAX_BUFFERED_SPANS {
            finished.push(span);
        }
    });
}

/// Sends what is buffered to `url` from now on, as spans of `resource`.
pub fn start(url: String, resource: Resource) {
    RELAY.set(Some(Relay { url, resource }));
    set_interval(flush, FLUSH_EVERY);
}

/// Sends every buffered span now. The `fetch` calls start before this returns, so a page
/// being closed still sends them.
pub fn flush() {
    let mut finished = FINISHED.take();
    if finished.is_empty() {
        return;
    }
    RELAY.with_borrow(|relay| {
        let Some(relay) = relay else { return };
        while !finished.is_empty() {
            let rest = finished.split_off(finished.len().min(SPANS_PER_REQUEST));
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(relay.resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        // The scope bears the app's name, as the SDK names it after its tracer.
                        scope: Some(InstrumentationScope {
                            name: FRONTEND_SERVICE_NAME.to_owned(),
                            ..Default::default()
                        }),
                        spans: finished,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            post(&relay.url, &request.encode_to_vec());
            finished = rest;
        }
    });
}

/// A relay that is down loses these spans and never troubles the page.
fn post(url: &str, body: &[u8]) {
    http::post_and_forget(
        url,
        "application/x-protobuf",
        body,
        body.len() <= KEEPALIVE_MAX_BYTES,
    );
}
