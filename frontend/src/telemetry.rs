//! The browser's half of every trace, sent as OpenTelemetry's OTLP.
//!
//! Spans are recorded by a small recorder of our own (`span`, which says why not the SDK),
//! buffered and sent through `crate::http` (`export`); the Performance APIs become the
//! page-load spans (`document_load`) and Google's web-vitals library the vitals (`vitals`);
//! user actions become the parents of the work they cause (`interaction`), every API call a
//! CLIENT span (`fetch`), and uncaught errors, rejections and panics error spans (`errors`).
//!
//! Its modules depend one way: `fetch` and `errors` on `interaction` on `span` on `export`; the
//! page-load spans and the vitals on `span`. None reaches back into this one, which wires them.

mod browser;
mod document_load;
mod errors;
mod export;
pub mod fetch;
mod fields;
pub mod interaction;
mod span;
pub mod trace_link;
mod url;
mod vitals;

pub use errors::panicked;

use leptos::prelude::window_event_listener;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use shared::FRONTEND_SERVICE_NAME;

/// Starts tracing the page: `api_url` is the backend whose relay takes the spans.
pub fn init(api_url: &str) {
    let resource = Resource {
        attributes: resource_attributes(),
        ..Default::default()
    };
    export::start(format!("{api_url}/v1/traces"), resource);
    trace_link::load(api_url);
    report_when_hidden();
    errors::observe();
    interaction::observe_gestures();
    document_load::record_when_loaded();
    vitals::observe();
}

/// Every buffered span, whenever the page is hidden or left: after `pagehide` it may never run
/// again.
fn report_when_hidden() {
    std::mem::forget(window_event_listener(leptos::ev::pagehide, |_| {
        export::flush()
    }));
    std::mem::forget(window_event_listener(leptos::ev::visibilitychange, |_| {
        export::flush_if_hidden()
    }));
}

/// What sent the spans, and who was looking: the same for every span of this tab's session.
fn resource_attributes() -> Vec<KeyValue> {
    let mut attributes = vec![
        span::string("service.name", FRONTEND_SERVICE_NAME),
        // OpenTelemetry's conventions ask every SDK to name itself, a vendor's or a project's
        // own by the module that is its entry point.
        span::string("telemetry.sdk.name", span::SDK_NAME),
        span::string("telemetry.sdk.language", "rust"),
        span::string("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        span::string("session.id", &session_id()),
    ];
    if let Some(window) = web_sys::window() {
        let navigator = window.navigator();
        if let Ok(user_agent) = navigator.user_agent() {
            attributes.push(span::string("user_agent.original", &user_agent));
        }
        if let Some(language) = navigator.language() {
            attributes.push(span::string("browser.language", &language));
        }
        attributes.extend(browser::attributes(&window));
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
    let mut id = [0; 16];
    span::fill_random(&mut id);
    let fresh = span::hex(&id);
    if let Some(storage) = storage {
        let _ = storage.set_item(KEY, &fresh);
    }
    fresh
}
