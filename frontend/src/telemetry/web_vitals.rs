//! Core Web Vitals from PerformanceObserver, computed as Google's `web-vitals` library does and
//! reported as spans named as Honeycomb's web instrumentation names them (`lcp`, with
//! `lcp.value` and `lcp.rating`). FCP and TTFB are final when seen; LCP, CLS and INP only when
//! the page is hidden, so they are reported then.

use std::cell::{Cell, RefCell};

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use web_sys::{PerformanceObserver, PerformanceObserverEntryList, PerformanceObserverInit};

use super::span::{self, Span};
use crate::clock;

/// What the page has measured so far, until it is hidden.
#[derive(Default)]
struct Measured {
    largest_contentful_paint: Option<f64>,
    layout_shift: LayoutShift,
    /// The longest event of each interaction, by interaction id. A page sees tens of
    /// interactions, not thousands: a list is smaller in the bundle than a map.
    interactions: Vec<(u64, f64)>,
}

/// Layout shifts in session windows: a window closes after a 1 s gap or at 5 s, and CLS is the
/// largest window's sum.
#[derive(Default)]
struct LayoutShift {
    largest: f64,
    window_sum: f64,
    window_start: f64,
    last_shift: f64,
}

thread_local! {
    static MEASURED: RefCell<Measured> = RefCell::new(Measured::default());
    static REPORTED_FINAL: Cell<bool> = const { Cell::new(false) };
}

pub fn observe() {
    report_time_to_first_byte();
    watch("paint", |entry| {
        if entry.name() == "first-contentful-paint" {
            report("fcp", entry.start_time(), &[1800.0, 3000.0]);
        }
    });
    watch("largest-contentful-paint", |entry| {
        MEASURED.with_borrow_mut(|measured| {
            measured.largest_contentful_paint = Some(entry.start_time())
        });
    });
    watch("layout-shift", |entry| {
        if number(&entry, "hadRecentInput") != 0.0 {
            return;
        }
        let value = number(&entry, "value");
        let at = entry.start_time();
        MEASURED.with_borrow_mut(|measured| measured.layout_shift.add(value, at));
    });
    watch("event", |entry| {
        let interaction = number(&entry, "interactionId") as u64;
        if interaction == 0 {
            return;
        }
        let duration = entry.duration();
        MEASURED.with_borrow_mut(|measured| {
            let interactions = &mut measured.interactions;
            match interactions.iter_mut().find(|(id, _)| *id == interaction) {
                Some((_, longest)) => *longest = longest.max(duration),
                None => interactions.push((interaction, duration)),
            }
        });
    });
}

impl LayoutShift {
    fn add(&mut self, value: f64, at: f64) {
        if at - self.last_shift > 1000.0 || at - self.window_start > 5000.0 {
            self.window_sum = 0.0;
            self.window_start = at;
        }
        self.window_sum += value;
        self.last_shift = at;
        self.largest = self.largest.max(self.window_sum);
    }
}

/// LCP, CLS and INP as they stand when the page is hidden, once per page.
pub fn report_final() {
    if REPORTED_FINAL.replace(true) {
        return;
    }
    MEASURED.with_borrow(|measured| {
        if let Some(lcp) = measured.largest_contentful_paint {
            report("lcp", lcp, &[2500.0, 4000.0]);
        }
        report("cls", measured.layout_shift.largest, &[0.1, 0.25]);
        if let Some(inp) = interaction_to_next_paint(&measured.interactions) {
            report("inp", inp, &[200.0, 500.0]);
        }
    });
}

/// The 98th percentile of interaction latencies: one outlier is ignored per 50 interactions.
fn interaction_to_next_paint(interactions: &[(u64, f64)]) -> Option<f64> {
    let mut latencies: Vec<f64> = interactions.iter().map(|(_, latency)| *latency).collect();
    let outliers_ignored = latencies.len() / 50;
    // The longest after the ignored ones, without sorting them all.
    for _ in 0..outliers_ignored {
        let longest = latencies
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| a.total_cmp(b))
            .map(|(index, _)| index)?;
        latencies.swap_remove(longest);
    }
    latencies.into_iter().max_by(f64::total_cmp)
}

fn report_time_to_first_byte() {
    let navigation =
        clock::performance().and_then(|performance| clock::navigation_timing(&performance));
    if let Some(navigation) = navigation {
        report("ttfb", navigation.response_start(), &[800.0, 1800.0]);
    }
}

/// One vital as a span of its own, rated against its good and poor thresholds.
fn report(name: &'static str, value: f64, [good, poor]: &[f64; 2]) {
    let rating = if value <= *good {
        "good"
    } else if value <= *poor {
        "needs-improvement"
    } else {
        "poor"
    };
    let now = clock::now();
    Span::start(
        name,
        SpanKind::Internal,
        None,
        now,
        vec![
            span::double(&format!("{name}.value"), value),
            span::string(&format!("{name}.rating"), rating),
        ],
    )
    .end(now);
}

/// Calls `on_entry` for each entry of `entry_type`, those before this call included.
fn watch(entry_type: &str, on_entry: impl Fn(web_sys::PerformanceEntry) + 'static) {
    let callback = Closure::<dyn Fn(PerformanceObserverEntryList)>::new(
        move |entries: PerformanceObserverEntryList| {
            for entry in entries.get_entries().iter() {
                if let Ok(entry) = entry.dyn_into::<web_sys::PerformanceEntry>() {
                    on_entry(entry);
                }
            }
        },
    );
    let Ok(observer) = PerformanceObserver::new(callback.as_ref().unchecked_ref()) else {
        return;
    };
    // web-sys knows only `entryTypes`, with which `buffered` is ignored: `type` is set by name.
    let options = PerformanceObserverInit::new(&js_sys::Array::new());
    let _ = js_sys::Reflect::delete_property(&options, &"entryTypes".into());
    let _ = js_sys::Reflect::set(&options, &"type".into(), &entry_type.into());
    options.set_buffered(true);
    if entry_type == "event" {
        // Interactions faster than this cannot set INP.
        let _ = js_sys::Reflect::set(&options, &"durationThreshold".into(), &40.into());
    }
    // A browser without this entry type ignores it and only misses this vital.
    observer.observe(&options);
    callback.forget();
}

fn number(entry: &web_sys::PerformanceEntry, field: &str) -> f64 {
    js_sys::Reflect::get(entry, &field.into())
        .ok()
        .and_then(|value| value.as_f64().or(value.as_bool().map(f64::from)))
        .unwrap_or_default()
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn inp_is_the_longest_interaction_until_fifty_then_one_outlier_is_ignored() {
        let few = [(1, 40.0), (2, 320.0), (3, 90.0)];
        assert_eq!(interaction_to_next_paint(&few), Some(320.0));
        let mut many: Vec<(u64, f64)> = (0..60).map(|id| (id, 50.0)).collect();
        many.push((100, 900.0));
        many.push((101, 400.0));
        assert_eq!(interaction_to_next_paint(&many), Some(400.0));
        assert_eq!(interaction_to_next_paint(&[]), None);
    }

    #[wasm_bindgen_test]
    fn cls_is_the_largest_session_window_of_shifts() {
        let mut shifts = LayoutShift::default();
        // One window: shifts under a second apart, within five seconds.
        shifts.add(0.05, 100.0);
        shifts.add(0.05, 900.0);
        // A gap of over a second starts a new, smaller window.
        shifts.add(0.02, 2500.0);
        assert!((shifts.largest - 0.10).abs() < 1e-9);
        // A window never spans more than five seconds: the one from 2,500 ms ends at 7,500.
        for at in [3000.0, 3800.0, 4600.0, 5400.0, 6200.0, 7000.0, 7800.0] {
            shifts.add(0.03, at);
        }
        assert!((shifts.largest - 0.20).abs() < 1e-9, "{}", shifts.largest);
    }
}
