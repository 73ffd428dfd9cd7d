//! Spans recorded straight into OTLP's protobuf types, without the OpenTelemetry API and SDK.
//!
//! Why by hand: in a browser the SDK's current context cannot follow async work (`interaction`
//! keeps the current action itself), and its processors block or need a thread (`export`
//! buffers and sends the spans itself). What it would still give, ids, a place for finished
//! spans and their encoding, is small next to what the API, the SDK and an id generator add to
//! the bundle everyone downloads (README and `bench/bundle-size.sh` have the figures); and
//! `opentelemetry-proto` alone does the encoding.
//!
//! What reaches the collector has the SDK's shape: ids of the same form, the same flags,
//! kinds, attributes, events, status and timestamps, under the same resource and scope;
//! `telemetry.sdk.*` name this recorder.
//!
//! Below `interaction`, `fetch` and the page-load spans, above `export`, which keeps what ends.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{SpanFlags, Status, status};

use super::export;
use crate::clock;
use crate::router::Route;

pub const SDK_NAME: &str = module_path!();

/// W3C's sampled bit, and "the parent is known not to be remote": the flags the SDK gives every
/// span it makes in a browser.
const FLAGS: u32 = SpanFlags::ContextHasIsRemoteMask as u32 | 1;

/// Which trace a span belongs to, and which span it is.
#[derive(Clone, Copy)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl SpanContext {
    /// A new trace. Unix seconds lead its id, big-endian, so AWS X-Ray accepts the same id
    /// (its `1-{8 hex digits of time}-{24 random}` form).
    pub fn root() -> SpanContext {
        let mut trace_id = [0; 16];
        let seconds = (clock::epoch_millis() / 1000.0) as u32;
        trace_id[..4].copy_from_slice(&seconds.to_be_bytes());
        fill_random(&mut trace_id[4..]);
        SpanContext {
            trace_id,
            span_id: span_id(),
        }
    }

    fn child(&self) -> SpanContext {
        SpanContext {
            trace_id: self.trace_id,
            span_id: span_id(),
        }
    }

    /// The trace id as the console, the trace view and every backend print it.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The W3C Trace Context header that makes the receiver's span a child of this one.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id_hex(), hex(&self.span_id))
    }
}

/// An id no other span has: random, and never all zeros, which would mean "no span".
fn span_id() -> [u8; 8] {
    let mut id = [0; 8];
    fill_random(&mut id);
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

/// Bytes from `crypto.getRandomValues`, which every browser that runs WebAssembly has.
pub fn fill_random(bytes: &mut [u8]) {
    let _ = getrandom::fill(bytes);
}

/// Lowercase hex, as W3C Trace Context and OTLP/JSON spell ids.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The most bytes a string attribute keeps, as the backend holds its own spans to: a page can
/// throw an error of any size, and the relay refuses an oversized export whole.
const MAX_STRING_BYTES: usize = 4096;

pub fn string(key: &str, value: &str) -> KeyValue {
    let mut end = value.len().min(MAX_STRING_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    attribute(key, any_value::Value::StringValue(value[..end].to_owned()))
}

pub fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

pub fn bool(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

pub fn double(key: &str, value: f64) -> KeyValue {
    attribute(key, any_value::Value::DoubleValue(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A span being recorded. It is exported when it ends, or, as the SDK does, when it is dropped
/// unended (a call whose future was dropped), then ending at that moment.
pub struct Span {
    context: SpanContext,
    recorded: opentelemetry_proto::tonic::trace::v1::Span,
}

impl Span {
    /// Starts a span at `at` (Unix nanoseconds): the root of a new trace without a `parent`.
    /// The page's route and screen size follow `attributes`, as on every span.
    pub fn start(
        name: &'static str,
        kind: SpanKind,
        parent: Option<&SpanContext>,
        at: u64,
        attributes: Vec<KeyValue>,
    ) -> Span {
        let context = parent.map_or_else(SpanContext::root, SpanContext::child);
        Span::begin(context, parent, name, kind, at, attributes)
    }

    /// Starts the root span of a trace whose context was made beforehand, so that spans begun
    /// earlier can already be its children.
    pub fn start_root(
        context: SpanContext,
        name: &'static str,
        kind: SpanKind,
        at: u64,
        attributes: Vec<KeyValue>,
    ) -> Span {
        Span::begin(context, None, name, kind, at, attributes)
    }

    fn begin(
        context: SpanContext,
        parent: Option<&SpanContext>,
        name: &'static str,
        kind: SpanKind,
        at: u64,
        mut attributes: Vec<KeyValue>,
    ) -> Span {
        add_page_attributes(&mut attributes);
        let recorded = opentelemetry_proto::tonic::trace::v1::Span {
            trace_id: context.trace_id.to_vec(),
            span_id: context.span_id.to_vec(),
            parent_span_id: parent
                .map(|parent| parent.span_id.to_vec())
                .unwrap_or_default(),
            flags: FLAGS,
            name: name.to_owned(),
            kind: kind as i32,
            start_time_unix_nano: at,
            attributes,
            status: Some(Status::default()),
            ..Default::default()
        };
        Span { context, recorded }
    }

    pub fn context(&self) -> SpanContext {
        self.context
    }

    pub fn set(&mut self, attribute: KeyValue) {
        self.recorded.attributes.push(attribute);
    }

    pub fn event(&mut self, name: &'static str, at: u64) {
        self.recorded.events.push(Event {
            time_unix_nano: at,
            name: name.to_owned(),
            ..Default::default()
        });
    }

    pub fn fail(&mut self, message: &str) {
        self.recorded.status = Some(Status {
            code: status::StatusCode::Error as i32,
            message: message.to_owned(),
        });
    }

    /// Ends the span at `at` (Unix nanoseconds); dropping it records it.
    pub fn end(mut self, at: u64) {
        self.recorded.end_time_unix_nano = at;
    }
}

/// Where the page was and how large the screen, when a span began: on every span. The route is
/// the app's name for the page (`/@{handle}`), the path its address (`/@andrewbrown`).
fn add_page_attributes(attributes: &mut Vec<KeyValue>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(path) = window.location().pathname() {
        attributes.push(string("page.route", Route::of(&path).template()));
        attributes.push(string("url.path", &path));
    }
    if let Ok(screen) = window.screen() {
        let width = screen.width().unwrap_or_default();
        let height = screen.height().unwrap_or_default();
        attributes.push(int("screen.width", i64::from(width)));
        attributes.push(int("screen.height", i64::from(height)));
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if self.recorded.end_time_unix_nano == 0 {
            self.recorded.end_time_unix_nano = clock::now();
        }
        export::record(std::mem::take(&mut self.recorded));
    }
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_string_attribute_keeps_its_first_bytes_up_to_the_limit_on_a_character_boundary() {
        let text = |attribute: KeyValue| match attribute.value.and_then(|value| value.value) {
            Some(any_value::Value::StringValue(text)) => text,
            other => panic!("not a string: {other:?}"),
        };
        assert_eq!(text(string("short", "a crud")), "a crud");
        let long = format!("a{}", "é".repeat(MAX_STRING_BYTES));
        let kept = text(string("exception.stacktrace", &long));
        assert_eq!(kept.len(), MAX_STRING_BYTES - 1);
        assert!(long.starts_with(&kept));
    }

    #[wasm_bindgen_test]
    fn a_trace_id_begins_with_the_time_and_its_spans_share_it() {
        let root = SpanContext::root();
        let seconds = u32::from_be_bytes(root.trace_id[..4].try_into().unwrap());
        let now = (js_sys::Date::now() / 1000.0) as u32;
        assert!(
            now.abs_diff(seconds) <= 1,
            "{} at {now}",
            root.trace_id_hex()
        );
        assert_ne!(root.trace_id[4..], SpanContext::root().trace_id[4..]);
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_ne!(child.span_id, [0; 8]);
    }

    #[wasm_bindgen_test]
    fn traceparent_is_version_trace_span_and_sampled_in_lowercase_hex() {
        let context = SpanContext {
            trace_id: [
                0x65, 0x4f, 0x2a, 0x01, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                0x77, 0x88,
            ],
            span_id: [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        };
        assert_eq!(context.trace_id_hex(), "654f2a01abcdef001122334455667788");
        assert_eq!(
            context.traceparent(),
            "00-654f2a01abcdef001122334455667788-00f067aa0ba902b7-01"
        );
    }
}
