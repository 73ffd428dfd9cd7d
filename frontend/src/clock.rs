//! Wall-clock time in the browser. `SystemTime::now()` panics on wasm32-unknown-unknown, and
//! `Date.now()` has millisecond steps; the Performance clock has sub-millisecond ones. Spans
//! take Unix nanoseconds as plain integers, as OTLP carries them.

use wasm_bindgen::JsCast as _;
use web_sys::{Performance, PerformanceNavigationTiming};

/// Milliseconds since the Unix epoch, now.
pub fn epoch_millis() -> f64 {
    performance()
        .map(|performance| performance.time_origin() + performance.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Nanoseconds since the Unix epoch, now.
pub fn now() -> u64 {
    nanos(epoch_millis())
}

/// In Unix nanoseconds, a moment the Performance APIs give in milliseconds since the page's
/// time origin.
pub fn from_page_time(page_millis: f64) -> u64 {
    let origin = performance()
        .map(|performance| performance.time_origin())
        .unwrap_or_else(js_sys::Date::now);
    nanos(origin + page_millis)
}

/// Casting saturates: a moment before the epoch becomes the epoch.
fn nanos(epoch_millis: f64) -> u64 {
    (epoch_millis * 1_000_000.0) as u64
}

pub fn performance() -> Option<Performance> {
    web_sys::window().and_then(|window| window.performance())
}

/// The page's navigation entry: the document's own fetch and load timings.
pub fn navigation_timing(performance: &Performance) -> Option<PerformanceNavigationTiming> {
    performance
        .get_entries_by_type("navigation")
        .get(0)
        .dyn_into::<PerformanceNavigationTiming>()
        .ok()
}
