//! The web vitals as Google's `web-vitals` library measures them (its attribution build, which
//! index.html loads as the global `webVitals`, pinned in scripts/setup.sh): LCP, INP, CLS, FCP
//! and TTFB, each with its value, rating, navigation type and attribution, reported as spans
//! named as Honeycomb's web instrumentation names them (`lcp`, with `lcp.value`, `lcp.rating`,
//! `lcp.navigation_type`, `lcp.element`…). The library decides when a value is final (at the
//! first input, when the page is hidden, after a back/forward cache restore); this module only
//! turns each report into a span.
//!
//! Every vital is a child of the page's `documentLoad` span, so a slow LCP leads to its page
//! load, and spans the time it measures: LCP, FCP and TTFB from the navigation's start (a
//! restore's, after one), INP over its interaction, CLS at its largest shift.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;

use super::fields::{field, text};
use super::span::{self, Span};
use super::url::redacted;
use super::{document_load, export};
use crate::clock::{self, from_page_time};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = webVitals, js_name = onLCP)]
    fn on_lcp(report: &Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = webVitals, js_name = onINP)]
    fn on_inp(report: &Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = webVitals, js_name = onCLS)]
    fn on_cls(report: &Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = webVitals, js_name = onFCP)]
    fn on_fcp(report: &Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = webVitals, js_name = onTTFB)]
    fn on_ttfb(report: &Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;
}

type Subscribe = fn(&Closure<dyn Fn(JsValue)>) -> Result<(), JsValue>;

/// One vital: how to ask the library for it, what its span spans, and which of the library's
/// attribution fields become which attributes (after the span's name and a dot).
struct Vital {
    name: &'static str,
    subscribe: Subscribe,
    spanning: Spanning,
    attribution: &'static [(&'static str, &'static str)],
}

/// When a vital's span starts and ends.
#[derive(Clone, Copy)]
enum Spanning {
    /// From the navigation's start (or the restore's) for the vital's value.
    FromNavigation,
    /// From the interaction for the vital's value.
    Interaction,
    /// At the largest layout shift, or when reported if nothing shifted.
    LargestShift,
}

static VITALS: [Vital; 5] = [
    Vital {
        name: "ttfb",
        subscribe: on_ttfb,
        spanning: Spanning::FromNavigation,
        attribution: &[
            ("waiting_duration", "waitingDuration"),
            ("cache_duration", "cacheDuration"),
            ("dns_duration", "dnsDuration"),
            ("connection_duration", "connectionDuration"),
            ("request_duration", "requestDuration"),
        ],
    },
    Vital {
        name: "fcp",
        subscribe: on_fcp,
        spanning: Spanning::FromNavigation,
        attribution: &[
            ("time_to_first_byte", "timeToFirstByte"),
            ("time_since_first_byte", "firstByteToFCP"),
            ("load_state", "loadState"),
        ],
    },
    Vital {
        name: "lcp",
        subscribe: on_lcp,
        spanning: Spanning::FromNavigation,
        attribution: &[
            ("element", "target"),
            ("url", "url"),
            ("time_to_first_byte", "timeToFirstByte"),
            ("resource_load_delay", "resourceLoadDelay"),
            ("resource_load_duration", "resourceLoadDuration"),
            ("element_render_delay", "elementRenderDelay"),
        ],
    },
    Vital {
        name: "inp",
        subscribe: on_inp,
        spanning: Spanning::Interaction,
        attribution: &[
            ("interaction_target", "interactionTarget"),
            ("interaction_type", "interactionType"),
            ("interaction_time", "interactionTime"),
            ("next_paint_time", "nextPaintTime"),
            ("input_delay", "inputDelay"),
            ("processing_duration", "processingDuration"),
            ("presentation_delay", "presentationDelay"),
            ("load_state", "loadState"),
        ],
    },
    Vital {
        name: "cls",
        subscribe: on_cls,
        spanning: Spanning::LargestShift,
        attribution: &[
            ("largest_shift_target", "largestShiftTarget"),
            ("largest_shift_time", "largestShiftTime"),
            ("largest_shift_value", "largestShiftValue"),
            ("load_state", "loadState"),
        ],
    },
];

/// Reports every vital from now on, with the library's defaults.
pub fn observe() {
    for vital in &VITALS {
        let report = Closure::<dyn Fn(JsValue)>::new(move |metric: JsValue| {
            vital.report(&metric);
        });
        if (vital.subscribe)(&report).is_err() {
            web_sys::console::warn_1(&"Cruddur: web-vitals is not loaded; no web vitals".into());
            return;
        }
        // The library calls it for the page's whole life, after each back/forward restore too.
        report.forget();
    }
}

impl Vital {
    /// One report of the library as a span in the page load's trace.
    fn report(&self, metric: &JsValue) {
        let name = self.name;
        let attribution = field(metric, "attribution");
        let value = number(metric, "value");
        let mut attributes = vec![
            span::double(&[name, ".value"].concat(), value),
            span::double(&[name, ".delta"].concat(), number(metric, "delta")),
            span::string(&[name, ".rating"].concat(), &text(metric, "rating")),
            span::string(&[name, ".id"].concat(), &text(metric, "id")),
            span::string(
                &[name, ".navigation_type"].concat(),
                &text(metric, "navigationType"),
            ),
        ];
        for (key, property) in self.attribution {
            let key = [name, ".", key].concat();
            let found = field(&attribution, property);
            if let Some(number) = found.as_f64() {
                attributes.push(span::double(&key, number));
            } else if let Some(found) = found.as_string() {
                attributes.push(span::string(&key, &redacted_if_url(property, found)));
            }
        }
        let (start, end) = match self.spanning {
            Spanning::FromNavigation => {
                let start = number(metric, "navigationStartTime");
                (from_page_time(start), from_page_time(start + value))
            }
            Spanning::Interaction => {
                let start = number(&attribution, "interactionTime");
                (from_page_time(start), from_page_time(start + value))
            }
            Spanning::LargestShift => {
                let at = field(&attribution, "largestShiftTime")
                    .as_f64()
                    .map_or_else(clock::now, from_page_time);
                (at, at)
            }
        };
        Span::start(
            name,
            SpanKind::Internal,
            Some(&document_load::context()),
            start,
            attributes,
        )
        .end(end);
        // The library gives its final values while the page is being hidden or left, possibly
        // after the page's own flush for that moment has run: they go out now, or never.
        export::flush_if_hidden();
    }
}

fn redacted_if_url(property: &str, value: String) -> String {
    if property == "url" {
        redacted(&value)
    } else {
        value
    }
}

fn number(object: &JsValue, name: &str) -> f64 {
    field(object, name).as_f64().unwrap_or_default()
}
