//! Every API call as a CLIENT span (stable HTTP semantic conventions) whose context travels in
//! `traceparent`, so the backend's SERVER span is its child, inside the action that caused it.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::set_timeout;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::RequestInit;

use super::interaction::{self, Action};
use super::span::{self, Span};
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
    // Without an action, the call starts a trace of its own.
    let mut span = Span::start(
        method,
        SpanKind::Client,
        action.as_ref().map(|action| action.context()),
        clock::now(),
        request_attributes(method, &url),
    );
    let held = action.map(Held::new);
    let traceparent = span.context().traceparent();
    async move {
        let answer = send(method, &url, json_body, Some(&traceparent)).await;
        match &answer {
            Ok(answer) => {
                span.set(span::int(
                    "http.response.status_code",
                    i64::from(answer.status),
                ));
                if answer.status >= 400 {
                    span.set(span::string("error.type", &answer.status.to_string()));
                    span.fail("");
                }
            }
            Err(Unanswered) => {
                span.set(span::string("error.type", "fetch_failed"));
                span.fail("the request got no answer");
            }
        }
        span.end(clock::now());
        // What the answer sets off (a feed refreshed after a post) runs in the microtasks
        // after this one, and belongs to the same action: it is released after them.
        set_timeout(move || drop(held), Duration::ZERO);
        answer
    }
}

/// A call that makes no span: the trace view's own polling would otherwise fill it.
pub async fn untraced(url: String) -> Result<Answer, Unanswered> {
    send("GET", &url, None, None).await
}

fn request_attributes(method: &'static str, url: &str) -> Vec<KeyValue> {
    let mut attributes = vec![
        span::string("http.request.method", method),
        span::string("url.full", url),
    ];
    if let Ok(parsed) = web_sys::Url::new(url) {
        attributes.push(span::string("server.address", &parsed.hostname()));
        let port = match parsed.port().parse::<i64>() {
            Ok(port) => port,
            Err(_) if parsed.protocol() == "https:" => 443,
            Err(_) => 80,
        };
        attributes.push(span::int("server.port", port));
    }
    attributes
}

async fn send(
    method: &str,
    url: &str,
    json_body: Option<String>,
    traceparent: Option<&str>,
) -> Result<Answer, Unanswered> {
    let window = web_sys::window().ok_or(Unanswered)?;
    let mut headers = Vec::new();
    if json_body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    if let Some(traceparent) = traceparent {
        headers.push(("traceparent", traceparent));
    }
    let body = json_body.map(|body| JsValue::from_str(&body));
    let init = request(method, &headers, body.as_ref());
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

/// A `fetch` call's options: its method, headers, and body if it has one.
pub(super) fn request(
    method: &str,
    headers: &[(&str, &str)],
    body: Option<&JsValue>,
) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    let header_object = js_sys::Object::new();
    for (name, value) in headers {
        let _ = js_sys::Reflect::set(&header_object, &(*name).into(), &(*value).into());
    }
    init.set_headers(&header_object);
    if let Some(body) = body {
        init.set_body(body);
    }
    init
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
