//! The browser's half of every trace, with the OpenTelemetry API and SDK.
//!
//! What the SDK cannot do in a browser is done here: its batch processor needs a thread and
//! its simple processor blocks on the export, so finished spans are buffered and sent with
//! `fetch` (`export`); the Performance APIs it knows nothing of become the page-load spans and
//! the web vitals (`document_load`, `web_vitals`); user actions become the parents of the
//! work they cause (`interaction`), and every API call a CLIENT span (`fetch`).

mod document_load;
mod export;
pub mod fetch;
pub mod interaction;
mod web_vitals;

use leptos::prelude::window_event_listener;
use opentelemetry::trace::{Span as _, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    IdGenerator as _, RandomIdGenerator, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use web_sys::VisibilityState;

pub const SERVICE_NAME: &str = "cruddur-frontend";

/// Starts tracing the page: `api_url` is the backend whose relay takes the spans.
pub fn init(api_url: &str) {
    let resource = Resource::builder()
        .with_service_name(SERVICE_NAME)
        .with_attributes(page_session_attributes())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        // Unix seconds in the first 8 hex digits: the same trace id is valid in AWS X-Ray.
        .with_id_generator(XrayIdGenerator::default())
        .with_span_processor(PageAttributes)
        .with_span_processor(export::RelayBuffer)
        .build();
    global::set_tracer_provider(provider);
    export::start(format!("{api_url}/v1/traces"), &resource);
    report_when_hidden();
    interaction::observe_gestures();
    document_load::record_when_loaded();
    web_vitals::observe();
}

/// The vitals that are final only now, and every buffered span, whenever the page is hidden or
/// left: after `pagehide` it may never run again.
fn report_when_hidden() {
    let report = || {
        web_vitals::report_final();
        export::flush();
    };
    std::mem::forget(window_event_listener(leptos::ev::pagehide, move |_| {
        report()
    }));
    std::mem::forget(window_event_listener(
        leptos::ev::visibilitychange,
        move |_| {
            if document_hidden() {
                report();
            }
        },
    ));
}

fn document_hidden() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_some_and(|document| document.visibility_state() == VisibilityState::Hidden)
}

fn tracer() -> global::BoxedTracer {
    global::tracer(SERVICE_NAME)
}

/// Who is looking: the same for every span of this tab's session.
fn page_session_attributes() -> Vec<KeyValue> {
    let navigator = web_sys::window().map(|window| window.navigator());
    let mut attributes = vec![KeyValue::new("session.id", session_id())];
    if let Some(navigator) = navigator {
        if let Ok(user_agent) = navigator.user_agent() {
            attributes.push(KeyValue::new("user_agent.original", user_agent));
        }
        if let Some(language) = navigator.language() {
            attributes.push(KeyValue::new("browser.language", language));
        }
    }
    attributes
}

/// One id per tab: sessionStorage lives as long as the tab, across reloads.
fn session_id() -> String {
    const KEY: &str = "cruddur.session.id";
    let storage = web_sys::window().and_then(|window| window.session_storage().ok().flatten());
    if let Some(existing) = storage
        .as_ref()
        .and_then(|storage| storage.get_item(KEY).ok()?)
    {
        return existing;
    }
    let fresh = RandomIdGenerator::default().new_trace_id().to_string();
    if let Some(storage) = storage {
        let _ = storage.set_item(KEY, &fresh);
    }
    fresh
}

/// Where the page was and how large the screen, when each span began.
#[derive(Debug)]
struct PageAttributes;

impl SpanProcessor for PageAttributes {
    fn on_start(&self, span: &mut Span, _parent: &Context) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Ok(route) = window.location().pathname() {
            span.set_attribute(KeyValue::new("page.route", route));
        }
        if let Ok(screen) = window.screen() {
            let width = screen.width().unwrap_or_default();
            let height = screen.height().unwrap_or_default();
            span.set_attribute(KeyValue::new("screen.width", i64::from(width)));
            span.set_attribute(KeyValue::new("screen.height", i64::from(height)));
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The trace id of a span's context, as the console and the trace view print it.
fn trace_id_of(cx: &Context) -> String {
    cx.span().span_context().trace_id().to_string()
}
