//! Every API call as a CLIENT span (stable HTTP semantic conventions) whose context travels in
//! `traceparent`, so the backend's SERVER span is its child, inside the action that caused it.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::set_timeout;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wasm_bindgen::JsValue;

use super::interaction::{self, Action};
use super::span::{self, Span};
use super::url::redacted;
use crate::clock;
use crate::http::{self, Answer, Unanswered};

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
        let traceparent = ("traceparent", traceparent.as_str());
        let headers: &[(&str, &str)] = match json_body {
            Some(_) => &[("content-type", "application/json"), traceparent],
            None => &[traceparent],
        };
        let body = json_body.map(|body| JsValue::from_str(&body));
        let answer = http::send(method, &url, headers, body).await;
        match &answer {
            Ok(answer) => {
                span.set(span::int(
                    "http.response.status_code",
                    i64::from(answer.status),
                ));
                if answer.status >= 400 {
                    let status = answer.status.to_string();
                    span.set(span::string("error.type", &status));
                    span.fail("");
                    // Every failed call's error is shown, beside its form or on its page.
                    fail_action(&held, &format!("the API answered {status}"));
                }
            }
            Err(Unanswered) => {
                span.set(span::string("error.type", "fetch_failed"));
                span.fail("the request got no answer");
                fail_action(&held, "the API could not be reached");
            }
        }
        span.end(clock::now());
        // What the answer sets off (a feed refreshed after a post) runs in the microtasks
        // after this one, and belongs to the same action: it is released after them.
        set_timeout(move || drop(held), Duration::ZERO);
        answer
    }
}

fn request_attributes(method: &'static str, url: &str) -> Vec<KeyValue> {
    let mut attributes = vec![
        span::string("http.request.method", method),
        span::string("url.full", &redacted(url)),
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

fn fail_action(held: &Option<Held>, message: &str) {
    if let Some(Held(action)) = held {
        action.fail(message);
    }
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
