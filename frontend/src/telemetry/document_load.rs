//! The page load as spans, from the Navigation and Resource Timing APIs, named and shaped as
//! OpenTelemetry JS's document-load instrumentation makes them: `documentLoad`, with a
//! `documentFetch` child for the HTML and a `resourceFetch` child for each file it loaded.

use std::time::Duration;

use leptos::prelude::{set_timeout, window_event_listener};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::JsCast as _;
use web_sys::PerformanceResourceTiming;

use super::span::{self, Span, SpanContext};
use super::url::redacted;
use crate::clock::{self, from_page_time};

thread_local! {
    /// Made before the span is recorded: the web vitals are its children, and the first of them
    /// are seen before the page has loaded.
    static CONTEXT: SpanContext = SpanContext::root();
}

/// The `documentLoad` span's trace and id.
pub fn context() -> SpanContext {
    CONTEXT.with(|context| *context)
}

/// Records the load once the `load` event has finished: only then is `loadEventEnd` known.
pub fn record_when_loaded() {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    if document.ready_state() == "complete" {
        set_timeout(record, Duration::ZERO);
    } else {
        let handle =
            window_event_listener(leptos::ev::load, |_| set_timeout(record, Duration::ZERO));
        std::mem::forget(handle);
    }
}

fn record() {
    let Some(performance) = clock::performance() else {
        return;
    };
    let Some(navigation) = clock::navigation_timing(&performance) else {
        return;
    };
    let url = web_sys::window()
        .and_then(|window| window.location().href().ok())
        .map(|url| redacted(&url))
        .unwrap_or_default();
    let mut document_load = Span::start_root(
        context(),
        "documentLoad",
        SpanKind::Internal,
        from_page_time(navigation.fetch_start()),
        vec![span::string("url.full", &url)],
    );
    for (name, at) in [
        ("fetchStart", navigation.fetch_start()),
        ("unloadEventStart", navigation.unload_event_start()),
        ("unloadEventEnd", navigation.unload_event_end()),
        ("domInteractive", navigation.dom_interactive()),
        (
            "domContentLoadedEventStart",
            navigation.dom_content_loaded_event_start(),
        ),
        (
            "domContentLoadedEventEnd",
            navigation.dom_content_loaded_event_end(),
        ),
        ("domComplete", navigation.dom_complete()),
        ("loadEventStart", navigation.load_event_start()),
        ("loadEventEnd", navigation.load_event_end()),
    ]
    .into_iter()
    .chain(paint_events(&performance))
    {
        if at > 0.0 || name == "fetchStart" {
            document_load.event(name, from_page_time(at));
        }
    }
    let parent = document_load.context();
    record_fetch(&parent, "documentFetch", &navigation, &url);
    for entry in performance.get_entries_by_type("resource").iter() {
        if let Ok(resource) = entry.dyn_into::<PerformanceResourceTiming>() {
            record_fetch(&parent, "resourceFetch", &resource, &resource.name());
        }
    }
    document_load.end(from_page_time(navigation.load_event_end()));
}

/// First paint and first contentful paint, as events of `documentLoad`.
fn paint_events(performance: &web_sys::Performance) -> Vec<(&'static str, f64)> {
    performance
        .get_entries_by_type("paint")
        .iter()
        .filter_map(|entry| entry.dyn_into::<web_sys::PerformanceEntry>().ok())
        .filter_map(|paint| match paint.name().as_str() {
            "first-paint" => Some(("firstPaint", paint.start_time())),
            "first-contentful-paint" => Some(("firstContentfulPaint", paint.start_time())),
            _ => None,
        })
        .collect()
}

/// One fetch of the page load, with its network timings as events.
fn record_fetch(
    parent: &SpanContext,
    name: &'static str,
    timing: &PerformanceResourceTiming,
    url: &str,
) {
    let mut span = Span::start(
        name,
        SpanKind::Client,
        Some(parent),
        from_page_time(timing.fetch_start()),
        vec![
            span::string("url.full", &redacted(url)),
            span::int("http.response.body.size", timing.encoded_body_size() as i64),
            span::string("initiator_type", &timing.initiator_type()),
        ],
    );
    for (event, at) in [
        ("fetchStart", timing.fetch_start()),
        ("domainLookupStart", timing.domain_lookup_start()),
        ("domainLookupEnd", timing.domain_lookup_end()),
        ("connectStart", timing.connect_start()),
        ("secureConnectionStart", timing.secure_connection_start()),
        ("connectEnd", timing.connect_end()),
        ("requestStart", timing.request_start()),
        ("responseStart", timing.response_start()),
        ("responseEnd", timing.response_end()),
    ] {
        // Zero means the step did not happen (a reused connection) or is hidden cross-origin.
        if at > 0.0 {
            span.event(event, from_page_time(at));
        }
    }
    span.end(from_page_time(timing.response_end()));
}
