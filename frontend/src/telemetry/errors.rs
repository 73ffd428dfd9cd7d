//! Errors as spans. An uncaught error or an unhandled promise rejection becomes an `exception`
//! span, as Honeycomb's web instrumentation names it, with OpenTelemetry's `exception.*`
//! attributes, inside the current action's trace when there is one. A Rust panic becomes a
//! `panic` span with its message and where it happened, and goes out at once: the app stops
//! after it, so there is no next flush.
//!
//! Every such span has the error status, which is how the local trace view tells errors apart.
//! Messages, stacks and file paths carry whatever URLs the failing code saw, so every URL in
//! them is redacted as recorded addresses are.

use std::cell::Cell;
use std::panic::PanicHookInfo;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};

use super::fields::field;
use super::span::{self, Span};
use super::url::redacted_in_text;
use super::{export, interaction};
use crate::clock;

thread_local! {
    /// After a panic the app's state is whatever the panic left it in; the `RuntimeError` the
    /// browser raises for it is the same failure, already recorded.
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// Records every uncaught error and unhandled rejection from now on.
pub fn observe() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if PANICKED.get() {
            return;
        }
        let is_error = event.type_() == "error";
        let thrown = field(&event, if is_error { "error" } else { "reason" });
        let mut attributes = exception_attributes(&thrown);
        if is_error {
            // An ErrorEvent says where the throw was, whatever was thrown.
            if let Some(message) = field(&event, "message").as_string() {
                set_missing(&mut attributes, "exception.message", &message);
            }
            source_location(&mut attributes, &event);
        }
        record("exception", attributes);
    });
    for event_type in ["error", "unhandledrejection"] {
        let _ =
            window.add_event_listener_with_callback(event_type, listener.as_ref().unchecked_ref());
    }
    // It listens for the page's whole life.
    listener.forget();
}

/// The panic hook: the panic at the console, as Rust's default hook would print it, and as a
/// span sent now with everything still buffered.
pub fn panicked(info: &PanicHookInfo) {
    let stack = string_field(&js_sys::Error::new(""), "stack").unwrap_or_default();
    web_sys::console::error_1(&format!("{info}\n\nStack:\n\n{stack}").into());
    if PANICKED.replace(true) {
        return;
    }
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let mut attributes = vec![
        span::string("exception.type", "panic"),
        text("exception.message", message),
        text("exception.stacktrace", &stack),
    ];
    if let Some(location) = info.location() {
        attributes.push(text("code.file.path", location.file()));
        attributes.push(span::int("code.line.number", i64::from(location.line())));
        attributes.push(span::int(
            "code.column.number",
            i64::from(location.column()),
        ));
    }
    record("panic", attributes);
    export::flush();
}

/// A panic on purpose, for the browser tests to follow one to the collector:
/// `wasmBindings.panic_on_purpose()` in the developers' build (`trace-view`), which they drive.
#[cfg(feature = "trace-view")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn panic_on_purpose() {
    panic!("a panic on purpose");
}

/// An error span, ended as it starts, in the current action's trace if there is one.
fn record(name: &'static str, attributes: Vec<KeyValue>) {
    let action = interaction::current();
    let now = clock::now();
    let mut span = Span::start(
        name,
        SpanKind::Internal,
        action.as_ref().map(|action| action.context()),
        now,
        attributes,
    );
    span.fail("");
    span.end(now);
}

/// `exception.type`, `.message` and `.stacktrace` of what was thrown: an `Error` has all three,
/// anything else (a string, a number) is its own message.
fn exception_attributes(thrown: &JsValue) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(6);
    if let Some(kind) = string_field(thrown, "name") {
        attributes.push(span::string("exception.type", &kind));
    }
    if let Some(message) = string_field(thrown, "message").or_else(|| thrown.as_string()) {
        attributes.push(text("exception.message", &message));
    }
    if let Some(stack) = string_field(thrown, "stack") {
        attributes.push(text("exception.stacktrace", &stack));
    }
    attributes
}

/// The script, line and column an `ErrorEvent` names.
fn source_location(attributes: &mut Vec<KeyValue>, event: &web_sys::Event) {
    if let Some(file) = string_field(event, "filename").filter(|file| !file.is_empty()) {
        attributes.push(text("code.file.path", &file));
    }
    for (key, field_name) in [
        ("code.line.number", "lineno"),
        ("code.column.number", "colno"),
    ] {
        if let Some(number) = field(event, field_name)
            .as_f64()
            .filter(|number| *number > 0.0)
        {
            attributes.push(span::int(key, number as i64));
        }
    }
}

fn set_missing(attributes: &mut Vec<KeyValue>, key: &str, value: &str) {
    if !attributes.iter().any(|attribute| attribute.key == key) {
        attributes.push(text(key, value));
    }
}

/// A string attribute from what the failing code said, its URLs redacted.
fn text(key: &str, value: &str) -> KeyValue {
    span::string(key, &redacted_in_text(value))
}

fn string_field(object: &JsValue, name: &str) -> Option<String> {
    field(object, name).as_string()
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn value(attributes: &[KeyValue], key: &str) -> Option<String> {
        let found = attributes.iter().find(|attribute| attribute.key == key)?;
        match found.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.clone()),
            _ => None,
        }
    }

    #[wasm_bindgen_test]
    fn a_thrown_error_gives_its_type_message_and_stack() {
        let error: JsValue = js_sys::TypeError::new("x is undefined").into();
        let attributes = exception_attributes(&error);
        assert_eq!(
            value(&attributes, "exception.type").as_deref(),
            Some("TypeError")
        );
        assert_eq!(
            value(&attributes, "exception.message").as_deref(),
            Some("x is undefined")
        );
        assert!(value(&attributes, "exception.stacktrace").is_some());
    }

    #[wasm_bindgen_test]
    fn a_thrown_string_is_its_own_message() {
        let attributes = exception_attributes(&JsValue::from_str("nope"));
        assert_eq!(
            value(&attributes, "exception.message").as_deref(),
            Some("nope")
        );
        assert_eq!(value(&attributes, "exception.type"), None);
    }

    #[wasm_bindgen_test]
    fn an_error_keeps_no_secret_of_the_url_in_its_message_or_stack() {
        let error: JsValue = js_sys::Error::new(
            "GET http://localhost:4567/api/activities/search?term=x&session=s3cr3t failed",
        )
        .into();
        let attributes = exception_attributes(&error);
        let message = value(&attributes, "exception.message").unwrap();
        assert_eq!(
            message,
            "GET http://localhost:4567/api/activities/search?term=x&session=REDACTED failed"
        );
        let stack = value(&attributes, "exception.stacktrace").unwrap();
        assert!(stack.contains("session=REDACTED"), "{stack}");
        assert!(!stack.contains("s3cr3t"), "{stack}");
    }
}
