//! Trace ids between X-Ray and W3C Trace Context.
//!
//! New traces get X-Ray's ids (Unix seconds first, then 96 random bits), which are valid W3C
//! ids too. Made here rather than by opentelemetry-aws's generator, which writes the random
//! part in hex and parses it back for every trace. A request that arrives with only an X-Ray `Root` (as an ALB sends it, no
//! `Parent`) has a trace but no parent span: the SDK ignores a context whose span id is zero,
//! so its server span is started as a root whose trace id is the incoming one, the way X-Ray's
//! own SDKs continue such a trace.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

thread_local! {
    /// The trace id the next root span started on this thread takes, once.
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// X-Ray's ids, except for a root span started inside [`start_in_trace`].
#[derive(Debug, Default)]
pub struct ContinuingIdGenerator {
    random: RandomIdGenerator,
}

impl ContinuingIdGenerator {
    /// The Unix seconds in the first 32 bits, random bits after them.
    fn new_xray_trace_id(&self, now: SystemTime) -> TraceId {
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let random = u128::from_be_bytes(self.random.new_trace_id().to_bytes());
        TraceId::from((u128::from(seconds as u32) << 96) | (random >> 32))
    }
}

impl IdGenerator for ContinuingIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .take()
            .unwrap_or_else(|| self.new_xray_trace_id(SystemTime::now()))
    }

    fn new_span_id(&self) -> SpanId {
        self.random.new_span_id()
    }
}

/// Runs `start`, which starts a span, so that a root span it starts has `trace_id` (when
/// given). Only a root span asks for a trace id; a span with a parent keeps its parent's.
pub fn start_in_trace<R>(trace_id: Option<TraceId>, start: impl FnOnce() -> R) -> R {
    NEXT_TRACE_ID.set(trace_id);
    let started = start();
    NEXT_TRACE_ID.set(None);
    started
}

/// X-Ray takes a trace only if the time in its first 8 hex digits is at most 28 days old and at
/// most 5 minutes ahead: the bounds the AWS Distro for OpenTelemetry collector's X-Ray exporter
/// checks, inside the service's 30-day limit.
const MAX_AGE: Duration = Duration::from_secs(28 * 24 * 60 * 60);
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Whether the X-Ray daemon path can take this trace id at `now`.
pub fn plausible_for_xray(trace_id: TraceId, now: SystemTime) -> bool {
    let seconds = u64::from(
        trace_id.to_bytes()[..4]
            .iter()
            .fold(0u32, |time, byte| (time << 8) | u32::from(*byte)),
    );
    let time = UNIX_EPOCH + Duration::from_secs(seconds);
    let now_seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let earliest = UNIX_EPOCH + now_seconds.saturating_sub(MAX_AGE);
    let latest = now + MAX_SKEW;
    (earliest..=latest).contains(&time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_at(seconds: u64) -> TraceId {
        TraceId::from_hex(&format!("{seconds:08x}0123456789abcdef01234567")).unwrap()
    }

    #[test]
    fn a_root_span_started_in_a_trace_takes_its_id_once() {
        let generator = ContinuingIdGenerator::default();
        let incoming = TraceId::from_hex("6921a1b2c3d4e5f60718293a4b5c6d7e").unwrap();
        let (first, second) = start_in_trace(Some(incoming), || {
            (generator.new_trace_id(), generator.new_trace_id())
        });
        assert_eq!(first, incoming);
        assert_ne!(second, incoming, "only the first root takes it");
        assert_ne!(generator.new_trace_id(), incoming);
    }

    #[test]
    fn nothing_is_left_behind_when_no_root_span_was_started() {
        let generator = ContinuingIdGenerator::default();
        let incoming = TraceId::from_hex("6921a1b2c3d4e5f60718293a4b5c6d7e").unwrap();
        start_in_trace(Some(incoming), || ());
        assert_ne!(generator.new_trace_id(), incoming);
    }

    #[test]
    fn a_new_trace_id_starts_with_the_unix_seconds_and_goes_on_at_random() {
        let generator = ContinuingIdGenerator::default();
        let now = UNIX_EPOCH + Duration::from_secs(0x6921_a1b2);
        let (first, second) = (
            generator.new_xray_trace_id(now),
            generator.new_xray_trace_id(now),
        );
        assert!(first.to_string().starts_with("6921a1b2"), "{first}");
        assert!(second.to_string().starts_with("6921a1b2"), "{second}");
        assert_ne!(first, second);
    }

    #[test]
    fn new_trace_ids_are_x_ray_ids_of_now() {
        let id = ContinuingIdGenerator::default().new_trace_id();
        assert!(plausible_for_xray(id, SystemTime::now()));
    }

    #[test]
    fn x_ray_takes_trace_ids_of_the_last_28_days_and_5_minutes_ahead() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let day = 24 * 60 * 60;
        for (seconds, plausible) in [
            (1_795_000_000, true),
            (1_795_000_000 - 28 * day, true),
            (1_795_000_000 - 28 * day - 1, false),
            (1_795_000_000 + 300, true),
            (1_795_000_000 + 301, false),
            // A W3C id from a system that doesn't make X-Ray ids: its "time" is 1979.
            (0x1234_5678, false),
            (0xffff_ffff, false),
        ] {
            assert_eq!(
                plausible_for_xray(trace_at(seconds), now),
                plausible,
                "{seconds}"
            );
        }
    }

    /// The property the `xray_header` fuzz target searches for at length.
    mod properties {
        use axum::http::{HeaderMap, HeaderValue};
        use proptest::prelude::*;

        use crate::telemetry::xray::{X_AMZN_TRACE_ID, incoming_trace};

        proptest! {
            #[test]
            fn any_x_amzn_trace_id_is_read_or_ignored_never_a_panic(
                value in "[ -~]{0,80}|(Root|Parent|Sampled|Self|Lineage)=[ -~]{0,40}(;[ -~]{0,40}){0,4}",
            ) {
                let mut headers = HeaderMap::new();
                headers.insert(X_AMZN_TRACE_ID, HeaderValue::from_str(&value).unwrap());
                if let Some((context, _)) = incoming_trace(&headers) {
                    prop_assert_ne!(context.trace_id(), super::TraceId::INVALID);
                }
            }
        }
    }
}
