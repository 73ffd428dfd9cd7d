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

/// How long before now `then_epoch_millis` was, as a person says it: `12 s ago`, `5 min ago`,
/// `3 h ago`, `2 d ago`; `just now` under a second, and for a clock that runs behind.
pub fn ago(then_epoch_millis: f64) -> String {
    let seconds = ((epoch_millis() - then_epoch_millis) / 1000.0) as i64;
    match seconds {
        ..1 => "just now".to_owned(),
        1..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// `2026-12-05 14:03:27` in the browser's time zone: the exact moment behind an `ago`.
pub fn exact_time(epoch_millis: f64) -> String {
    let date = js_sys::Date::new(&epoch_millis.into());
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
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

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_moment_reads_as_how_long_ago_it_was_down_to_the_second() {
        let now = epoch_millis();
        assert_eq!(ago(now + 5_000.0), "just now");
        assert_eq!(ago(now - 12_400.0), "12 s ago");
        assert_eq!(ago(now - 59_900.0), "59 s ago");
        assert_eq!(ago(now - 5.0 * 60_000.0 - 100.0), "5 min ago");
        assert_eq!(ago(now - 3.0 * 3_600_000.0 - 100.0), "3 h ago");
        assert_eq!(ago(now - 2.0 * 86_400_000.0 - 100.0), "2 d ago");
    }
}
