//! Every API call as a CLIENT span (stable HTTP semantic conventions) whose context travels in
//! `traceparent`, so the backend's SERVER span is its child, inside the action that caused it.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::set_timeout;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::RequestInit;

use super::interaction::{self, Action};
use super::tracer;
use crate::clock;

/// The answer to a call: its status and body, whatever the status.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The call never got an answer: the network, CORS, or a server that is not there.
pub struct Unanswered;

/// Starts the call at once, in the current action, so its span has the right parent however
/// late the returned future is polled.
pub fn traced(
    method: &'static str,
    url: String,
    json_body: Option<String>,
) -> impl Future<Output = Result<Answer, Unanswered>> + 'static {
    let action = interaction::current();
    let parent = action
        .as_ref()
        .map(|action| action.context().clone())
        .unwrap_or_else(Context::current);
    let held = action.map(Held::new);
    let tracer = tracer();
    let span = tracer
        .span_builder(method)
        .with_kind(SpanKind::Client)
        .with_start_time(clock::now())
        .with_attributes(request_attributes(method, &url))
        .start_with_context(&tracer, &parent);
    let cx = parent.with_span(span);
    let mut trace_headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut trace_headers);
    async move {
        let answer = send(method, &url, json_body, trace_headers).await;
        let span = cx.span();
        match &answer {
            Ok(answer) => {
                span.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(answer.status),
                ));
                if answer.status >= 400 {
                    span.set_attribute(KeyValue::new("error.type", answer.status.to_string()));
                    span.set_status(Status::error(""));
                }
            }
            Err(Unanswered) => {
                span.set_attribute(KeyValue::new("error.type", "fetch_failed"));
                span.set_status(Status::error("the request got no answer"));
            }
        }
        span.end_with_timestamp(clock::now());
        // What the answer sets off (a feed refreshed after a post) runs in the microtasks
        // after this one, and belongs to the same action: it is released after them.
        set_timeout(move || drop(held), Duration::ZERO);
        answer
    }
}

/// A call that makes no span: the trace view's own polling would otherwise fill it.
pub async fn untraced(url: String) -> Result<Answer, Unanswered> {
    send("GET", &url, None, HashMap::new()).await
}

fn request_attributes(method: &'static str, url: &str) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.full", url.to_owned()),
    ];
    if let Ok(parsed) = web_sys::Url::new(url) {
        attributes.push(KeyValue::new("server.address", parsed.hostname()));
        let port = match parsed.port().parse::<i64>() {
            Ok(port) => port,
            Err(_) if parsed.protocol() == "https:" => 443,
            Err(_) => 80,
        };
        attributes.push(KeyValue::new("server.port", port));
    }
    attributes
}

async fn send(
    method: &str,
    url: &str,
    json_body: Option<String>,
    trace_headers: HashMap<String, String>,
) -> Result<Answer, Unanswered> {
    let window = web_sys::window().ok_or(Unanswered)?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = js_sys::Object::new();
    let set_header = |name: &str, value: &str| {
        let _ = js_sys::Reflect::set(&headers, &name.into(), &value.into());
    };
    if let Some(body) = &json_body {
        set_header("content-type", "application/json");
        init.set_body(&JsValue::from_str(body));
    }
    for (name, value) in &trace_headers {
        set_header(name, value);
    }
    init.set_headers(&headers);
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| Unanswered)?
        .dyn_into::<web_sys::Response>()
        .map_err(|_| Unanswered)?;
    let text = response.text().map_err(|_| Unanswered)?;
    let body = JsFuture::from(text).await.map_err(|_| Unanswered)?;
    Ok(Answer {
        status: response.status(),
        body: body.as_string().unwrap_or_default(),
    })
}

/// Keeps an action open while its call is in flight, however the call ends.
struct Held(Rc<Action>);

impl Held {
    fn new(action: Rc<Action>) -> Self {
        action.hold();
        Held(action)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.release();
    }
}
