//! The page load as spans, from the Navigation and Resource Timing APIs, named and shaped as
//! OpenTelemetry JS's document-load instrumentation makes them: `documentLoad`, with a
//! `documentFetch` child for the HTML and a `resourceFetch` child for each file it loaded.

use std::time::Duration;

use leptos::prelude::{set_timeout, window_event_listener};
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use wasm_bindgen::JsCast as _;
use web_sys::{PerformanceNavigationTiming, PerformanceResourceTiming};

use super::tracer;
use crate::clock::from_page_time;

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
    let Some(performance) = web_sys::window().and_then(|window| window.performance()) else {
        return;
    };
    let Some(navigation) = performance
        .get_entries_by_type("navigation")
        .get(0)
        .dyn_into::<PerformanceNavigationTiming>()
        .ok()
    else {
        return;
    };
    let tracer = tracer();
    let url = web_sys::window()
        .and_then(|window| window.location().href().ok())
        .unwrap_or_default();
    let mut document_load = tracer
        .span_builder("documentLoad")
        .with_kind(SpanKind::Internal)
        .with_start_time(from_page_time(navigation.fetch_start()))
        .with_attributes([KeyValue::new("url.full", url.clone())])
        .start_with_context(&tracer, &Context::new());
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
            document_load.add_event_with_timestamp(name, from_page_time(at), vec![]);
        }
    }
    let cx = Context::new().with_span(document_load);
    record_fetch(&cx, "documentFetch", &navigation, url);
    for entry in performance.get_entries_by_type("resource").iter() {
        if let Ok(resource) = entry.dyn_into::<PerformanceResourceTiming>() {
            let url = resource.name();
            record_fetch(&cx, "resourceFetch", &resource, url);
        }
    }
    cx.span()
        .end_with_timestamp(from_page_time(navigation.load_event_end()));
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
    parent: &Context,
    name: &'static str,
    timing: &PerformanceResourceTiming,
    url: String,
) {
    let tracer = tracer();
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(from_page_time(timing.fetch_start()))
        .with_attributes([
            KeyValue::new("url.full", url),
            KeyValue::new("http.response.body.size", timing.encoded_body_size() as i64),
            KeyValue::new("initiator_type", timing.initiator_type()),
        ])
        .start_with_context(&tracer, parent);
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
            span.add_event_with_timestamp(event, from_page_time(at), vec![]);
        }
    }
    span.end_with_timestamp(from_page_time(timing.response_end()));
}
