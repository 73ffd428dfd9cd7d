//! Wall-clock time in the browser. `SystemTime::now()` panics on wasm32-unknown-unknown, and
//! `Date.now()` has millisecond steps; the Performance clock has sub-millisecond ones.

use std::time::{Duration, SystemTime};

/// Milliseconds since the Unix epoch, now.
pub fn epoch_millis() -> f64 {
    performance()
        .map(|performance| performance.time_origin() + performance.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// A moment the Performance APIs give in milliseconds since the page's time origin.
pub fn from_page_time(page_millis: f64) -> SystemTime {
    let origin = performance()
        .map(|performance| performance.time_origin())
        .unwrap_or_else(js_sys::Date::now);
    at_epoch_millis(origin + page_millis)
}

pub fn now() -> SystemTime {
    at_epoch_millis(epoch_millis())
}

fn at_epoch_millis(millis: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(millis.max(0.0) / 1000.0)
}

fn performance() -> Option<web_sys::Performance> {
    web_sys::window().and_then(|window| window.performance())
}
