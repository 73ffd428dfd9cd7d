//! Finished spans wait in a bounded buffer and go to the backend's relay as OTLP protobuf, with
//! `fetch`: every few seconds, and at once when the page is hidden or left, with `keepalive`
//! so a closing page's spans still arrive. The key is added by the relay, never here.
//!
//! Nothing is lost silently: spans the buffer has no room for, and exports the relay did not
//! take after one more try, are counted, and every export carries the count since the page
//! loaded (`cruddur.spans_dropped` on its resource), so the losses show beside the spans.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use leptos::prelude::{set_interval, set_timeout};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use shared::FRONTEND_SERVICE_NAME;
use web_sys::VisibilityState;

use crate::http::{self, Delivery, Unanswered};

/// Spans kept while the relay cannot be reached; past this, new ones are dropped.
const MAX_BUFFERED_SPANS: usize = 2048;
const SPANS_PER_REQUEST: usize = 200;
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Browsers refuse `keepalive` requests once their bodies in flight pass 64 KiB.
const KEEPALIVE_MAX_BYTES: usize = 60 * 1024;
/// A failed export is tried once more after this, and as much again at most, at random, so
/// that tabs which failed together do not try again together.
const RETRY_BACKOFF: Duration = Duration::from_secs(2);
/// The longest `Retry-After` waited for: a relay that asks for longer gets the spans dropped.
const MAX_RETRY_AFTER_SECONDS: u32 = 60;
const DROPPED_ATTRIBUTE: &str = "cruddur.spans_dropped";

struct Relay {
    url: String,
    resource: Resource,
}

thread_local! {
    static FINISHED: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
    static RELAY: RefCell<Option<Relay>> = const { RefCell::new(None) };
    static DROPPED: Cell<usize> = const { Cell::new(0) };
}

/// Keeps a finished span until the next flush.
pub fn record(span: Span) {
    FINISHED.with_borrow_mut(|finished| {
        if finished.len() < MAX_BUFFERED_SPANS {
            finished.push(span);
        } else {
            count_dropped(1);
        }
    });
}

fn count_dropped(spans: usize) {
    DROPPED.set(DROPPED.get().saturating_add(spans));
}

/// Sends what is buffered to `url` from now on, as spans of `resource`.
pub fn start(url: String, resource: Resource) {
    RELAY.set(Some(Relay { url, resource }));
    set_interval(flush, FLUSH_EVERY);
}

/// Sends every buffered span now. The `fetch` calls start before this returns, so a page
/// being closed still sends them.
pub fn flush() {
    let mut finished = FINISHED.take();
    if finished.is_empty() {
        return;
    }
    RELAY.with_borrow(|relay| {
        let Some(relay) = relay else { return };
        let resource = with_dropped_count(relay.resource.clone(), DROPPED.get());
        while !finished.is_empty() {
            let rest = finished.split_off(finished.len().min(SPANS_PER_REQUEST));
            let spans = finished.len();
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        // The scope bears the app's name, as the SDK names it after its tracer.
                        scope: Some(InstrumentationScope {
                            name: FRONTEND_SERVICE_NAME.to_owned(),
                            ..Default::default()
                        }),
                        spans: finished,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            post(relay.url.clone(), request.encode_to_vec(), spans);
            finished = rest;
        }
    });
}

/// Flushes when the page is hidden or being left: what is recorded then may be the last.
pub fn flush_if_hidden() {
    let hidden = web_sys::window()
        .and_then(|window| window.document())
        .is_some_and(|document| document.visibility_state() == VisibilityState::Hidden);
    if hidden {
        flush();
    }
}

fn with_dropped_count(mut resource: Resource, dropped: usize) -> Resource {
    if dropped > 0 {
        resource.attributes.push(KeyValue {
            key: DROPPED_ATTRIBUTE.to_owned(),
            value: Some(AnyValue {
                value: Some(Value::IntValue(i64::try_from(dropped).unwrap_or(i64::MAX))),
            }),
            ..Default::default()
        });
    }
    resource
}

/// Sends one export of `spans` spans, and once more if the relay did not take it. The page
/// never waits for either.
fn post(url: String, body: Vec<u8>, spans: usize) {
    let keepalive = body.len() <= KEEPALIVE_MAX_BYTES;
    let first = http::post(&url, "application/x-protobuf", &body, keepalive);
    wasm_bindgen_futures::spawn_local(async move {
        match next_step(first.await, backoff()) {
            Next::Done => {}
            Next::GiveUp => count_dropped(spans),
            Next::RetryIn(delay) => set_timeout(
                move || {
                    let again = http::post(&url, "application/x-protobuf", &body, keepalive);
                    wasm_bindgen_futures::spawn_local(async move {
                        if !delivered(&again.await) {
                            count_dropped(spans);
                        }
                    });
                },
                delay,
            ),
        }
    });
}

#[derive(Debug, PartialEq)]
enum Next {
    Done,
    RetryIn(Duration),
    GiveUp,
}

/// What an export's answer asks for: a 429 or 503 is tried again after its `Retry-After`
/// (seconds), or after `backoff` without one, as is a relay that is unreachable or failing
/// (5xx); any other refusal (400, 413, 415) would be refused again, and the spans are dropped.
fn next_step(answer: Result<Delivery, Unanswered>, backoff: Duration) -> Next {
    if delivered(&answer) {
        return Next::Done;
    }
    match answer {
        Ok(Delivery {
            status: 429 | 503,
            retry_after: Some(seconds),
        }) => {
            if seconds <= MAX_RETRY_AFTER_SECONDS {
                Next::RetryIn(Duration::from_secs(seconds.into()))
            } else {
                Next::GiveUp
            }
        }
        Ok(Delivery { status, .. }) if status == 429 || status >= 500 => Next::RetryIn(backoff),
        Ok(_) => Next::GiveUp,
        Err(Unanswered) => Next::RetryIn(backoff),
    }
}

fn delivered(answer: &Result<Delivery, Unanswered>) -> bool {
    matches!(
        answer,
        Ok(Delivery {
            status: 200..=299,
            ..
        })
    )
}

fn backoff() -> Duration {
    let spread = (js_sys::Math::random() * RETRY_BACKOFF.as_millis() as f64) as u64;
    RETRY_BACKOFF + Duration::from_millis(spread)
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn answered(status: u16, retry_after: Option<u32>) -> Result<Delivery, Unanswered> {
        Ok(Delivery {
            status,
            retry_after,
        })
    }

    const BACKOFF: Duration = Duration::from_secs(3);

    #[wasm_bindgen_test]
    fn a_throttled_export_is_tried_again_after_the_relays_retry_after() {
        assert_eq!(
            next_step(answered(429, Some(7)), BACKOFF),
            Next::RetryIn(Duration::from_secs(7))
        );
        assert_eq!(
            next_step(answered(503, Some(1)), BACKOFF),
            Next::RetryIn(Duration::from_secs(1))
        );
        assert_eq!(
            next_step(answered(429, None), BACKOFF),
            Next::RetryIn(BACKOFF)
        );
        assert_eq!(
            next_step(answered(429, Some(3600)), BACKOFF),
            Next::GiveUp,
            "a wait longer than a page is likely to stay open drops the spans"
        );
    }

    #[wasm_bindgen_test]
    fn an_unreachable_or_failing_relay_is_tried_again_after_a_backoff() {
        assert_eq!(next_step(Err(Unanswered), BACKOFF), Next::RetryIn(BACKOFF));
        assert_eq!(
            next_step(answered(502, None), BACKOFF),
            Next::RetryIn(BACKOFF)
        );
    }

    #[wasm_bindgen_test]
    fn a_refused_export_is_dropped_and_a_delivered_one_is_done() {
        for status in [400, 413, 415] {
            assert_eq!(
                next_step(answered(status, None), BACKOFF),
                Next::GiveUp,
                "{status}"
            );
        }
        assert_eq!(next_step(answered(200, None), BACKOFF), Next::Done);
    }

    #[wasm_bindgen_test]
    fn the_backoff_is_spread_over_its_double() {
        for _ in 0..20 {
            let backoff = backoff();
            assert!(
                (RETRY_BACKOFF..=RETRY_BACKOFF * 2).contains(&backoff),
                "{backoff:?}"
            );
        }
    }

    #[wasm_bindgen_test]
    fn exports_carry_the_count_of_dropped_spans_once_there_are_any() {
        let resource = Resource::default();
        assert!(
            with_dropped_count(resource.clone(), 0)
                .attributes
                .is_empty()
        );
        let counted = with_dropped_count(resource, 12);
        assert_eq!(counted.attributes[0].key, DROPPED_ATTRIBUTE);
        assert_eq!(
            counted.attributes[0]
                .value
                .as_ref()
                .and_then(|value| value.value.clone()),
            Some(Value::IntValue(12))
        );
    }
}
