//! Core Web Vitals from PerformanceObserver, with the attribution Google's `web-vitals` library
//! computes in its attribution build (what the LCP was and which part of it was slow, which
//! interaction set INP and where its time went, which element shifted most), reported as spans
//! named as Honeycomb's web instrumentation names them (`lcp`, with `lcp.value`, `lcp.rating`,
//! `lcp.element`…).
//!
//! Every vital is a child of the page's `documentLoad` span, so a slow LCP leads to its page
//! load, and spans the time it measures: LCP, FCP and TTFB from the page's start, INP over its
//! interaction, CLS at its largest shift. FCP and TTFB are final when seen; LCP, CLS and INP
//! only when the page is hidden, so they are reported then.

use std::cell::{Cell, RefCell};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{
    PerformanceEntry, PerformanceNavigationTiming, PerformanceObserver,
    PerformanceObserverEntryList, PerformanceObserverInit,
};

use super::document_load;
use super::span::{self, Span};
use super::url::redacted;
use crate::clock::{self, from_page_time};

/// What the page has measured so far, until it is hidden.
#[derive(Default)]
struct Measured {
    largest_contentful_paint: Option<Paint>,
    layout_shift: LayoutShift,
    interactions: Interactions,
}

/// The longest interactions, as web-vitals keeps them: enough for the 98th percentile of up to
/// 500 interactions, and bounded however long the page is used. A list, longest first, is
/// smaller in the bundle than a map.
#[derive(Default)]
struct Interactions {
    longest: Vec<Interaction>,
    /// How many interactions the page has seen, where the browser does not count them.
    seen: usize,
}

const LONGEST_INTERACTIONS_KEPT: usize = 10;

/// The latest LCP candidate. Its element is named when it is seen: by the time the page is
/// hidden it may be gone from the document.
struct Paint {
    at: f64,
    element: String,
    url: String,
}

/// One layout shift: its score, when, and the element that moved (web-vitals' choice: the
/// first source that is an element).
#[derive(Clone, Debug, PartialEq)]
struct Shift {
    value: f64,
    at: f64,
    target: String,
}

/// Layout shifts in session windows: a window closes after a 1 s gap or at 5 s, and CLS is the
/// largest window's sum; its largest shift is the one to blame.
#[derive(Default)]
struct LayoutShift {
    largest: f64,
    window_sum: f64,
    window_start: f64,
    last_shift: f64,
    window_largest_shift: Option<Shift>,
    largest_shift: Option<Shift>,
}

/// One interaction (a click, a key press) as its event timing entries describe it, in
/// milliseconds since the page's time origin.
#[derive(Clone, Debug, Default, PartialEq)]
struct Interaction {
    id: u64,
    /// The longest of its entries: from the input to the next paint.
    latency: f64,
    /// When its first event's input happened and when its handlers started.
    start: f64,
    processing_start: f64,
    /// When the last of its handlers finished.
    processing_end: f64,
    target: String,
    keyboard: bool,
}

/// Where an LCP's time went, each part in milliseconds, as web-vitals splits it.
#[derive(Debug, PartialEq)]
struct LcpParts {
    time_to_first_byte: f64,
    resource_load_delay: f64,
    resource_load_duration: f64,
    element_render_delay: f64,
}

/// Where an interaction's time went: waiting for the main thread, in handlers, and until the
/// browser painted.
#[derive(Debug, PartialEq)]
struct InpParts {
    input_delay: f64,
    processing_duration: f64,
    presentation_delay: f64,
}

thread_local! {
    static MEASURED: RefCell<Measured> = RefCell::new(Measured::default());
    static REPORTED_FINAL: Cell<bool> = const { Cell::new(false) };
}

pub fn observe() {
    report_time_to_first_byte();
    watch("paint", |entry| {
        if entry.name() == "first-contentful-paint" {
            report_first_contentful_paint(entry.start_time());
        }
    });
    watch("largest-contentful-paint", |entry| {
        let paint = Paint {
            at: entry.start_time(),
            element: selector(&field(&entry, "element")),
            url: field(&entry, "url").as_string().unwrap_or_default(),
        };
        MEASURED.with_borrow_mut(|measured| measured.largest_contentful_paint = Some(paint));
    });
    watch("layout-shift", |entry| {
        if number(&entry, "hadRecentInput") != 0.0 {
            return;
        }
        let shift = Shift {
            value: number(&entry, "value"),
            at: entry.start_time(),
            target: shifted_element(&entry),
        };
        MEASURED.with_borrow_mut(|measured| measured.layout_shift.add(shift));
    });
    watch("event", |entry| {
        let id = number(&entry, "interactionId") as u64;
        if id == 0 {
            return;
        }
        let seen = Interaction {
            id,
            latency: entry.duration(),
            start: entry.start_time(),
            processing_start: number(&entry, "processingStart"),
            processing_end: number(&entry, "processingEnd"),
            target: selector(&field(&entry, "target")),
            keyboard: entry.name().starts_with("key"),
        };
        MEASURED.with_borrow_mut(|measured| measured.interactions.add(seen));
    });
}

impl Interactions {
    /// Adds an event's entry to its interaction: the first entry says when it started, the
    /// longest how long it took, the last handler when processing ended.
    fn add(&mut self, seen: Interaction) {
        let interaction = match self.longest.iter().position(|known| known.id == seen.id) {
            Some(index) => {
                let mut known = self.longest.remove(index);
                known.latency = known.latency.max(seen.latency);
                known.processing_end = known.processing_end.max(seen.processing_end);
                if known.target.is_empty() {
                    known.target = seen.target;
                }
                known
            }
            None => {
                self.seen += 1;
                seen
            }
        };
        let at = self
            .longest
            .iter()
            .position(|kept| kept.latency < interaction.latency)
            .unwrap_or(self.longest.len());
        if at < LONGEST_INTERACTIONS_KEPT {
            self.longest.insert(at, interaction);
            self.longest.truncate(LONGEST_INTERACTIONS_KEPT);
        }
    }

    /// The interaction at the 98th percentile of `count` interactions: one outlier is ignored
    /// per 50.
    fn to_next_paint(&self, count: usize) -> Option<&Interaction> {
        let last = self.longest.len().checked_sub(1)?;
        self.longest.get((count / 50).min(last))
    }
}

impl LayoutShift {
    fn add(&mut self, shift: Shift) {
        let at = shift.at;
        if at - self.last_shift > 1000.0 || at - self.window_start > 5000.0 {
            self.window_sum = 0.0;
            self.window_start = at;
            self.window_largest_shift = None;
        }
        self.window_sum += shift.value;
        self.last_shift = at;
        if self
            .window_largest_shift
            .as_ref()
            .is_none_or(|largest| shift.value > largest.value)
        {
            self.window_largest_shift = Some(shift);
        }
        if self.window_sum > self.largest {
            self.largest = self.window_sum;
            self.largest_shift.clone_from(&self.window_largest_shift);
        }
    }
}

/// LCP, CLS and INP as they stand when the page is hidden, once per page.
pub fn report_final() {
    if REPORTED_FINAL.replace(true) {
        return;
    }
    let navigation = navigation();
    MEASURED.with_borrow(|measured| {
        if let Some(paint) = &measured.largest_contentful_paint {
            report_largest_contentful_paint(paint, navigation.as_ref());
        }
        let cls = &measured.layout_shift;
        let mut attributes = Vec::new();
        let mut at = clock::now();
        if let Some(shift) = &cls.largest_shift {
            attributes.push(span::string("cls.largest_shift_target", &shift.target));
            attributes.push(span::double("cls.largest_shift_time", shift.at));
            attributes.push(span::double("cls.largest_shift_value", shift.value));
            attributes.push(span::string("cls.load_state", load_state(shift.at)));
            at = from_page_time(shift.at);
        }
        report("cls", cls.largest, &[0.1, 0.25], at, at, attributes);
        // Chromium counts every interaction, those too fast to be observed among them.
        let counted = clock::performance()
            .map_or(0.0, |performance| number(&performance, "interactionCount"));
        let count = if counted > 0.0 {
            counted as usize
        } else {
            measured.interactions.seen
        };
        if let Some(interaction) = measured.interactions.to_next_paint(count) {
            report_interaction_to_next_paint(interaction);
        }
    });
}

fn report_largest_contentful_paint(
    paint: &Paint,
    navigation: Option<&PerformanceNavigationTiming>,
) {
    let response_start = navigation.map_or(0.0, |navigation| navigation.response_start());
    let resource = (!paint.url.is_empty())
        .then(|| resource_timing(&paint.url))
        .flatten()
        .map(|resource| {
            let request_start = resource.request_start();
            let request_start = if request_start > 0.0 {
                request_start
            } else {
                resource.start_time()
            };
            (request_start, resource.response_end())
        });
    let parts = lcp_parts(
        response_start - activation_start(navigation),
        paint.at - activation_start(navigation),
        resource,
    );
    let mut attributes = vec![
        span::string("lcp.element", &paint.element),
        span::double("lcp.time_to_first_byte", parts.time_to_first_byte),
        span::double("lcp.resource_load_delay", parts.resource_load_delay),
        span::double("lcp.resource_load_duration", parts.resource_load_duration),
        span::double("lcp.element_render_delay", parts.element_render_delay),
    ];
    if !paint.url.is_empty() {
        attributes.push(span::string("lcp.url", &redacted(&paint.url)));
    }
    report(
        "lcp",
        paint.at,
        &[2500.0, 4000.0],
        from_page_time(0.0),
        from_page_time(paint.at),
        attributes,
    );
}

/// web-vitals' LCP sub-parts, which add up to the LCP: `ttfb` and `lcp` in milliseconds after
/// activation, `resource` the LCP resource's request start and response end, if it has one.
fn lcp_parts(ttfb: f64, lcp: f64, resource: Option<(f64, f64)>) -> LcpParts {
    let ttfb = ttfb.max(0.0);
    let (request_start, response_end) = resource.unwrap_or_default();
    let request_start = ttfb.max(request_start);
    let response_end = request_start.max(response_end);
    let render = response_end.max(lcp);
    LcpParts {
        time_to_first_byte: ttfb,
        resource_load_delay: request_start - ttfb,
        resource_load_duration: response_end - request_start,
        element_render_delay: render - response_end,
    }
}

fn report_interaction_to_next_paint(interaction: &Interaction) {
    let parts = inp_parts(interaction);
    let attributes = vec![
        span::string("inp.interaction_target", &interaction.target),
        span::string(
            "inp.interaction_type",
            if interaction.keyboard {
                "keyboard"
            } else {
                "pointer"
            },
        ),
        span::double("inp.interaction_time", interaction.start),
        span::double("inp.input_delay", parts.input_delay),
        span::double("inp.processing_duration", parts.processing_duration),
        span::double("inp.presentation_delay", parts.presentation_delay),
        span::string("inp.load_state", load_state(interaction.start)),
    ];
    report(
        "inp",
        interaction.latency,
        &[200.0, 500.0],
        from_page_time(interaction.start),
        from_page_time(interaction.start + interaction.latency),
        attributes,
    );
}

/// web-vitals' INP sub-parts, which add up to the interaction's latency.
fn inp_parts(interaction: &Interaction) -> InpParts {
    let next_paint = interaction.start + interaction.latency;
    InpParts {
        input_delay: interaction.processing_start - interaction.start,
        processing_duration: interaction.processing_end - interaction.processing_start,
        presentation_delay: (next_paint - interaction.processing_end).max(0.0),
    }
}

fn report_time_to_first_byte() {
    if let Some(navigation) = navigation() {
        let ttfb = navigation.response_start() - activation_start(Some(&navigation));
        report(
            "ttfb",
            ttfb,
            &[800.0, 1800.0],
            from_page_time(0.0),
            from_page_time(navigation.response_start()),
            Vec::new(),
        );
    }
}

fn report_first_contentful_paint(at: f64) {
    let navigation = navigation();
    let ttfb = navigation
        .as_ref()
        .map_or(0.0, |navigation| navigation.response_start())
        - activation_start(navigation.as_ref());
    report(
        "fcp",
        at,
        &[1800.0, 3000.0],
        from_page_time(0.0),
        from_page_time(at),
        vec![
            span::double("fcp.time_to_first_byte", ttfb.max(0.0)),
            span::double("fcp.time_since_first_byte", (at - ttfb).max(0.0)),
            span::string("fcp.load_state", load_state(at)),
        ],
    );
}

/// One vital as a span of its own in the page load's trace, from `start` to `end` (Unix
/// nanoseconds), rated against its good and poor thresholds.
fn report(
    name: &'static str,
    value: f64,
    [good, poor]: &[f64; 2],
    start: u64,
    end: u64,
    mut attributes: Vec<KeyValue>,
) {
    let rating = if value <= *good {
        "good"
    } else if value <= *poor {
        "needs-improvement"
    } else {
        "poor"
    };
    attributes.push(span::double(&[name, ".value"].concat(), value));
    attributes.push(span::string(&[name, ".rating"].concat(), rating));
    Span::start(
        name,
        SpanKind::Internal,
        Some(&document_load::context()),
        start,
        attributes,
    )
    .end(end);
}

/// How far the document had loaded at `at` (page milliseconds), in web-vitals' words.
fn load_state(at: f64) -> &'static str {
    let loading = web_sys::window()
        .and_then(|window| window.document())
        .is_some_and(|document| document.ready_state() == "loading");
    if loading {
        return "loading";
    }
    match navigation() {
        Some(navigation) if at < navigation.dom_interactive() => "loading",
        Some(navigation)
            if navigation.dom_content_loaded_event_start() == 0.0
                || at < navigation.dom_content_loaded_event_start() =>
        {
            "dom-interactive"
        }
        Some(navigation) if navigation.dom_complete() == 0.0 || at < navigation.dom_complete() => {
            "dom-content-loaded"
        }
        _ => "complete",
    }
}

fn navigation() -> Option<PerformanceNavigationTiming> {
    clock::performance().and_then(|performance| clock::navigation_timing(&performance))
}

/// When a prerendered page was shown: its vitals count from then.
fn activation_start(navigation: Option<&PerformanceNavigationTiming>) -> f64 {
    navigation.map_or(0.0, |navigation| number(navigation, "activationStart"))
}

fn resource_timing(url: &str) -> Option<web_sys::PerformanceResourceTiming> {
    clock::performance()?
        .get_entries_by_name_with_entry_type(url, "resource")
        .get(0)
        .dyn_into()
        .ok()
}

/// The first element among a layout shift's sources, else the first source.
fn shifted_element(entry: &PerformanceEntry) -> String {
    let sources: js_sys::Array = field(entry, "sources").dyn_into().unwrap_or_default();
    let nodes: Vec<JsValue> = sources
        .iter()
        .map(|source| field(&source, "node"))
        .collect();
    let element = nodes
        .iter()
        .find(|node| node.is_instance_of::<web_sys::Element>())
        .or(nodes.first());
    element.map(selector).unwrap_or_default()
}

/// `main.content>div.feed>article.activity`: an element as web-vitals names it, from itself up
/// to the nearest id or the document, at most 100 characters.
fn selector(node: &JsValue) -> String {
    const MAX_LENGTH: usize = 100;
    let mut selector = String::new();
    let mut node = node.dyn_ref::<web_sys::Node>().cloned();
    while let Some(current) = node.filter(|node| node.node_type() != web_sys::Node::DOCUMENT_NODE) {
        let element = current.dyn_ref::<web_sys::Element>();
        let id = element.map(web_sys::Element::id).unwrap_or_default();
        let mut part = String::new();
        if !id.is_empty() {
            part.push('#');
            part.push_str(&id);
        } else if let Some(element) = element {
            part = element.node_name().to_ascii_lowercase();
            for class in element.class_name().split_whitespace() {
                part.push('.');
                part.push_str(class);
            }
        } else {
            part = current
                .node_name()
                .trim_start_matches('#')
                .to_ascii_uppercase();
        }
        if selector.len() + part.len() > MAX_LENGTH - 1 {
            return if selector.is_empty() { part } else { selector };
        }
        if !selector.is_empty() {
            part.push('>');
            part.push_str(&selector);
        }
        selector = part;
        if !id.is_empty() {
            break;
        }
        node = current.parent_node();
    }
    selector
}

/// Calls `on_entry` for each entry of `entry_type`, those before this call included.
fn watch(entry_type: &str, on_entry: impl Fn(PerformanceEntry) + 'static) {
    let callback = Closure::<dyn Fn(PerformanceObserverEntryList)>::new(
        move |entries: PerformanceObserverEntryList| {
            for entry in entries.get_entries().iter() {
                if let Ok(entry) = entry.dyn_into::<PerformanceEntry>() {
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

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn number(object: &JsValue, name: &str) -> f64 {
    let value = field(object, name);
    value
        .as_f64()
        .or(value.as_bool().map(f64::from))
        .unwrap_or_default()
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn interaction(id: u64, latency: f64) -> Interaction {
        Interaction {
            id,
            latency,
            ..Interaction::default()
        }
    }

    fn measured(all: impl IntoIterator<Item = Interaction>) -> Interactions {
        let mut interactions = Interactions::default();
        for interaction in all {
            interactions.add(interaction);
        }
        interactions
    }

    fn inp(interactions: &Interactions) -> Option<(u64, f64)> {
        interactions
            .to_next_paint(interactions.seen)
            .map(|interaction| (interaction.id, interaction.latency))
    }

    #[wasm_bindgen_test]
    fn inp_is_the_longest_interaction_until_fifty_then_one_outlier_is_ignored() {
        let few = measured([
            interaction(1, 40.0),
            interaction(2, 320.0),
            interaction(3, 90.0),
        ]);
        assert_eq!(inp(&few), Some((2, 320.0)));
        let many = measured(
            (0..60)
                .map(|id| interaction(id, 50.0))
                .chain([interaction(100, 900.0), interaction(101, 400.0)]),
        );
        assert_eq!(many.seen, 62);
        assert_eq!(inp(&many), Some((101, 400.0)));
        assert_eq!(inp(&Interactions::default()), None);
    }

    #[wasm_bindgen_test]
    fn only_the_longest_interactions_are_kept_however_many_there_are() {
        let interactions = measured((0..10_000).map(|id| interaction(id, (id % 997) as f64)));
        assert_eq!(interactions.seen, 10_000);
        assert_eq!(interactions.longest.len(), LONGEST_INTERACTIONS_KEPT);
        assert_eq!(interactions.longest[0].latency, 996.0);
        // Past 500 interactions, the tenth longest stands for the 98th percentile.
        assert_eq!(inp(&interactions).map(|(_, latency)| latency), Some(996.0));
    }

    #[wasm_bindgen_test]
    fn an_interaction_keeps_its_first_start_its_longest_latency_and_its_last_handler() {
        let pointerdown = Interaction {
            id: 7,
            latency: 80.0,
            start: 1000.0,
            processing_start: 1010.0,
            processing_end: 1020.0,
            target: String::new(),
            keyboard: false,
        };
        let click = Interaction {
            latency: 120.0,
            start: 1050.0,
            processing_start: 1060.0,
            processing_end: 1090.0,
            target: "button.crud-button".into(),
            ..pointerdown.clone()
        };
        let interactions = measured([interaction(1, 100.0), pointerdown, click]);
        assert_eq!((interactions.seen, interactions.longest.len()), (2, 2));
        let merged = &interactions.longest[0];
        assert_eq!(merged.start, 1000.0);
        assert_eq!(merged.latency, 120.0);
        assert_eq!(merged.processing_end, 1090.0);
        assert_eq!(merged.target, "button.crud-button");
    }

    #[wasm_bindgen_test]
    fn inp_splits_into_input_delay_processing_and_presentation() {
        let slow = Interaction {
            id: 1,
            latency: 300.0,
            start: 1000.0,
            processing_start: 1040.0,
            processing_end: 1240.0,
            ..Interaction::default()
        };
        assert_eq!(
            inp_parts(&slow),
            InpParts {
                input_delay: 40.0,
                processing_duration: 200.0,
                presentation_delay: 60.0,
            }
        );
    }

    #[wasm_bindgen_test]
    fn lcp_splits_into_ttfb_load_delay_load_duration_and_render_delay() {
        // An image requested 300 ms after the first byte, loaded in 500 ms, painted 100 ms later.
        assert_eq!(
            lcp_parts(200.0, 1100.0, Some((500.0, 1000.0))),
            LcpParts {
                time_to_first_byte: 200.0,
                resource_load_delay: 300.0,
                resource_load_duration: 500.0,
                element_render_delay: 100.0,
            }
        );
        // Text has no resource: everything after the first byte is render delay.
        assert_eq!(
            lcp_parts(200.0, 900.0, None),
            LcpParts {
                time_to_first_byte: 200.0,
                resource_load_delay: 0.0,
                resource_load_duration: 0.0,
                element_render_delay: 700.0,
            }
        );
        // A resource from the cache, timed before the first byte, counts from it.
        assert_eq!(
            lcp_parts(200.0, 600.0, Some((100.0, 150.0))),
            LcpParts {
                time_to_first_byte: 200.0,
                resource_load_delay: 0.0,
                resource_load_duration: 0.0,
                element_render_delay: 400.0,
            }
        );
    }

    fn shift(value: f64, at: f64) -> Shift {
        Shift {
            value,
            at,
            target: format!("p.at-{at}"),
        }
    }

    #[wasm_bindgen_test]
    fn cls_is_the_largest_session_window_of_shifts_and_blames_its_largest_shift() {
        let mut shifts = LayoutShift::default();
        // One window: shifts under a second apart, within five seconds.
        shifts.add(shift(0.04, 100.0));
        shifts.add(shift(0.06, 900.0));
        // A gap of over a second starts a new, smaller window.
        shifts.add(shift(0.02, 2500.0));
        assert!((shifts.largest - 0.10).abs() < 1e-9);
        assert_eq!(shifts.largest_shift, Some(shift(0.06, 900.0)));
        // A window never spans more than five seconds: the one from 2,500 ms ends at 7,500.
        for (value, at) in [
            (0.03, 3000.0),
            (0.05, 3800.0),
            (0.03, 4600.0),
            (0.03, 5400.0),
            (0.03, 6200.0),
            (0.01, 7000.0),
            (0.03, 7800.0),
        ] {
            shifts.add(shift(value, at));
        }
        assert!((shifts.largest - 0.20).abs() < 1e-9, "{}", shifts.largest);
        assert_eq!(shifts.largest_shift, Some(shift(0.05, 3800.0)));
    }

    #[wasm_bindgen_test]
    fn an_element_is_named_as_web_vitals_names_it() {
        let document = web_sys::window().unwrap().document().unwrap();
        let container = document.create_element("section").unwrap();
        container.set_inner_html(
            r#"<div id="feed"><article class="activity  new"><p>text</p></article></div>"#,
        );
        document.body().unwrap().append_child(&container).unwrap();
        let paragraph = container.query_selector("p").unwrap().unwrap();
        assert_eq!(selector(&paragraph.into()), "#feed>article.activity.new>p");
        let text = container
            .query_selector("p")
            .unwrap()
            .unwrap()
            .first_child()
            .unwrap();
        assert_eq!(selector(&text.into()), "#feed>article.activity.new>p>TEXT");
        assert_eq!(selector(&JsValue::NULL), "");
    }
}
