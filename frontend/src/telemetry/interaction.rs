//! User actions as the roots of their traces. A click or a submit that causes work (a fetch, a
//! route change) becomes a span that is the parent of that work and stays open until the
//! work is done. Browsers give Wasm nothing like zone.js to follow async work, so an action
//! is "current" from its event until the work started in that task has finished, and work
//! holds it open explicitly.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{ArcRwSignal, Set as _, WithUntracked as _, set_timeout};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;

use super::span::{self, Span, SpanContext};
use super::trace_link;
use crate::clock;
use crate::router::{self, Route};

/// A user action whose span is open while work it caused is in flight.
pub struct Action {
    /// Outlives the span: the trace id is announced after the span has ended.
    context: SpanContext,
    /// Recorded when the last work the action caused is done.
    span: RefCell<Option<Span>>,
    pending: Cell<u32>,
    parent: Option<Rc<Action>>,
    describe: String,
}

/// A click or submit that has caused no work yet: it becomes an [`Action`] when it does.
struct Gesture {
    name: &'static str,
    attributes: Vec<KeyValue>,
    describe: String,
    /// Unix nanoseconds.
    at: u64,
}

thread_local! {
    // Reference-counted, not owned by any component: it outlives every page.
    static LAST_ACTION_TRACE: ArcRwSignal<Option<String>> = ArcRwSignal::new(None);
    static CURRENT: RefCell<Option<Rc<Action>>> = const { RefCell::new(None) };
    static GESTURE: RefCell<Option<Gesture>> = const { RefCell::new(None) };
}

/// Watches every click and submit on the page. The capturing phase on `window` runs before
/// any handler of the app or the router, so the action exists when they start work.
pub fn observe_gestures() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener = Closure::<dyn Fn(web_sys::Event)>::new(remember_gesture);
    for event_type in ["click", "submit"] {
        let _ = window.add_event_listener_with_callback_and_bool(
            event_type,
            listener.as_ref().unchecked_ref(),
            true,
        );
    }
    // It listens for the page's whole life.
    listener.forget();
}

fn remember_gesture(event: web_sys::Event) {
    if on_trace_view() {
        return;
    }
    let name = if event.type_() == "submit" {
        "submit"
    } else {
        "click"
    };
    // A click on a submit button is followed by its form's submit in the same task: one action.
    if name == "submit" && GESTURE.with_borrow(Option::is_some) {
        return;
    }
    let target = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok());
    let mut attributes = vec![span::string("event_type", name)];
    let mut describe = name.to_owned();
    if let Some(target) = target {
        let label = label_of(&target);
        attributes.push(span::string("target_element", &target.tag_name()));
        attributes.push(span::string("target_xpath", &xpath_of(&target)));
        if !label.is_empty() {
            describe = format!("{name} \"{label}\"");
            attributes.push(span::string("app.target.label", &label));
        }
    }
    CURRENT.set(None);
    GESTURE.set(Some(Gesture {
        name,
        attributes,
        describe,
        at: clock::now(),
    }));
    // Work is caused in the event's task and the microtasks after it; later, nothing is.
    set_timeout(|| GESTURE.set(None), Duration::ZERO);
}

/// What a person reads on the element: its text, or its accessible name, shortened.
fn label_of(target: &web_sys::Element) -> String {
    let text = target
        .get_attribute("aria-label")
        .or_else(|| target.text_content())
        .unwrap_or_default();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(40)
        .collect()
}

/// `//main/header/button[2]`: where the element sits, as OpenTelemetry JS records it.
fn xpath_of(target: &web_sys::Element) -> String {
    let mut steps = Vec::new();
    let mut element = Some(target.clone());
    while let Some(current) = element {
        // HTML tag names are ASCII: the Unicode case tables would weigh on the bundle for nothing.
        let tag = current.tag_name().to_ascii_lowercase();
        if tag == "html" || tag == "body" {
            break;
        }
        if let Some(id) = current.get_attribute("id") {
            steps.push(format!("*[@id=\"{id}\"]"));
            break;
        }
        let mut position = 1;
        let mut sibling = current.previous_element_sibling();
        while let Some(previous) = sibling {
            if previous.tag_name() == current.tag_name() {
                position += 1;
            }
            sibling = previous.previous_element_sibling();
        }
        steps.push(if position > 1 {
            format!("{tag}[{position}]")
        } else {
            tag
        });
        element = current.parent_element();
    }
    steps.reverse();
    format!("//{}", steps.join("/"))
}

/// The trace id of the last user action that finished, as it changes.
pub fn last_action_trace() -> ArcRwSignal<Option<String>> {
    LAST_ACTION_TRACE.with(Clone::clone)
}

/// The trace view does not trace itself: looking at traces would make more of them.
fn on_trace_view() -> bool {
    router::address().with_untracked(|address| Route::of(address).is_trace_view())
}

/// The action that work starting now belongs to, if any: a gesture of this task becomes one.
pub fn current() -> Option<Rc<Action>> {
    if let Some(gesture) = GESTURE.take() {
        return Some(Action::begin(
            gesture.name,
            gesture.at,
            gesture.attributes,
            None,
            gesture.describe,
        ));
    }
    CURRENT.with_borrow(Clone::clone)
}

/// A page change in the app: a child of the action that caused it (a click on a link), or the
/// root of its own trace (back and forward buttons).
pub fn route_changed(from: &str, to: &str) {
    if Route::of(to).is_trace_view() {
        return;
    }
    Action::begin(
        "routeChange",
        clock::now(),
        vec![
            span::string("app.route.from", from),
            span::string("app.route.to", to),
        ],
        current(),
        format!("route change to {to}"),
    );
}

impl Action {
    /// Starts the action's span, `name`, at `at` (Unix nanoseconds).
    fn begin(
        name: &'static str,
        at: u64,
        attributes: Vec<KeyValue>,
        parent: Option<Rc<Action>>,
        describe: String,
    ) -> Rc<Action> {
        let span = Span::start(
            name,
            SpanKind::Internal,
            parent.as_ref().map(|parent| &parent.context),
            at,
            attributes,
        );
        if let Some(parent) = &parent {
            parent.hold();
        }
        let action = Rc::new(Action {
            context: span.context(),
            span: RefCell::new(Some(span)),
            // The task that began it holds it until it yields.
            pending: Cell::new(1),
            parent,
            describe,
        });
        CURRENT.set(Some(action.clone()));
        let yielded = action.clone();
        set_timeout(move || yielded.release(), Duration::ZERO);
        action
    }

    /// The span that work caused by this action is a child of.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// Marks the action, and the actions that caused it, as failed: work it caused ended in an
    /// error the person is shown.
    pub fn fail(&self, message: &str) {
        if let Some(span) = self.span.borrow_mut().as_mut() {
            span.fail(message);
        }
        if let Some(parent) = &self.parent {
            parent.fail(message);
        }
    }

    /// Keeps the action open until the matching [`release`](Self::release).
    pub fn hold(&self) {
        self.pending.set(self.pending.get() + 1);
    }

    pub fn release(self: &Rc<Self>) {
        let pending = self.pending.get().saturating_sub(1);
        self.pending.set(pending);
        if pending > 0 {
            return;
        }
        if let Some(span) = self.span.take() {
            span.end(clock::now());
        }
        CURRENT.with_borrow_mut(|current| {
            if current.as_ref().is_some_and(|open| Rc::ptr_eq(open, self)) {
                *current = None;
            }
        });
        match &self.parent {
            Some(parent) => parent.release(),
            None => self.announce(),
        }
    }

    /// Tells the developer which trace this action made: at the console, with its Honeycomb
    /// link when spans go there, and in the page's indicator.
    fn announce(&self) {
        let trace_id = self.context.trace_id_hex();
        let link = trace_link::for_trace(&trace_id).unwrap_or_default();
        web_sys::console::info_1(
            &format!("Cruddur traced {}: trace {trace_id} {link}", self.describe).into(),
        );
        LAST_ACTION_TRACE.with(|last| last.set(Some(trace_id)));
    }
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    /// `html` in a fresh container of its own: the test harness reports into the body.
    fn element(html: &str, selector: &str) -> web_sys::Element {
        let document = web_sys::window().unwrap().document().unwrap();
        let container = document.create_element("section").unwrap();
        container.set_inner_html(html);
        document.body().unwrap().append_child(&container).unwrap();
        container.query_selector(selector).unwrap().unwrap()
    }

    #[wasm_bindgen_test]
    fn an_element_is_located_by_position_under_the_nearest_id() {
        let button = element(
            r#"<main><header><h1>Home</h1><button>A</button><button class="b">B</button></header></main>"#,
            ".b",
        );
        assert!(xpath_of(&button).ends_with("/section/main/header/button[2]"));
        let inside = element(r#"<div id="feed"><p><a href="/x">x</a></p></div>"#, "a");
        assert_eq!(xpath_of(&inside), r#"//*[@id="feed"]/p/a"#);
    }

    #[wasm_bindgen_test]
    fn a_label_is_the_text_a_person_reads_shortened() {
        let button = element("<button>  Crud \n </button>", "button");
        assert_eq!(label_of(&button), "Crud");
        let named = element(r#"<button aria-label="Close">×</button>"#, "button");
        assert_eq!(label_of(&named), "Close");
        let long = element(&format!("<p>{}</p>", "word ".repeat(20)), "p");
        assert_eq!(label_of(&long).chars().count(), 40);
    }
}
