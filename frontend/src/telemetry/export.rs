//! Finished spans wait in a bounded buffer and go to the backend's relay as OTLP protobuf, with
//! `fetch`: every few seconds, and at once when the page is hidden or left, with `keepalive`
//! so a closing page's spans still arrive. The key is added by the relay, never here.

use std::cell::RefCell;
use std::sync::Mutex;
use std::time::Duration;

use leptos::prelude::set_interval;
use opentelemetry::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use prost::Message as _;
use wasm_bindgen::JsValue;
use web_sys::RequestInit;

/// Spans kept while the relay cannot be reached; past this, new ones are dropped.
const MAX_BUFFERED_SPANS: usize = 2048;
const SPANS_PER_REQUEST: usize = 200;
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Browsers refuse `keepalive` requests once their bodies in flight pass 64 KiB.
const KEEPALIVE_MAX_BYTES: usize = 60 * 1024;

static FINISHED: Mutex<Vec<SpanData>> = Mutex::new(Vec::new());

struct Relay {
    url: String,
    resource: ResourceAttributesWithSchema,
}

thread_local! {
    static RELAY: RefCell<Option<Relay>> = const { RefCell::new(None) };
}

/// The SDK's span processor for the browser: it only keeps finished, sampled spans.
#[derive(Debug)]
pub struct RelayBuffer;

impl SpanProcessor for RelayBuffer {
    fn on_start(&self, _span: &mut Span, _parent: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if let Ok(mut finished) = FINISHED.lock()
            && finished.len() < MAX_BUFFERED_SPANS
        {
            finished.push(span);
        }
    }

    // Flushing is the page's: on its timer (`start`) and when it is hidden (`telemetry::init`).
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Sends what is buffered to `url` from now on.
pub fn start(url: String, resource: &Resource) {
    RELAY.with_borrow_mut(|relay| {
        *relay = Some(Relay {
            url,
            resource: resource.into(),
        })
    });
    set_interval(flush, FLUSH_EVERY);
}

/// Sends every buffered span now. The `fetch` calls start before this returns, so a page
/// being closed still sends them.
pub fn flush() {
    let finished = match FINISHED.lock() {
        Ok(mut finished) => std::mem::take(&mut *finished),
        Err(_) => return,
    };
    if finished.is_empty() {
        return;
    }
    RELAY.with_borrow(|relay| {
        let Some(relay) = relay else { return };
        let mut finished = finished;
        while !finished.is_empty() {
            let rest = finished.split_off(finished.len().min(SPANS_PER_REQUEST));
            let request = ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(finished, &relay.resource),
            };
            post(&relay.url, &request.encode_to_vec());
            finished = rest;
        }
    });
}

fn post(url: &str, body: &[u8]) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&js_sys::Uint8Array::from(body));
    let headers = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &headers,
        &"content-type".into(),
        &"application/x-protobuf".into(),
    );
    init.set_headers(&headers);
    // web-sys has no setter for `keepalive` yet.
    let _ = js_sys::Reflect::set(
        &init,
        &"keepalive".into(),
        &JsValue::from_bool(body.len() <= KEEPALIVE_MAX_BYTES),
    );
    let sent = window.fetch_with_str_and_init(url, &init);
    // A relay that is down loses these spans and never troubles the page.
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(sent).await;
    });
}
