//! When an export is tried again, as the OTLP exporter specification and opentelemetry-otlp's
//! default policy have it: 429, 502, 503 and 504 and failed connections are retried, at most
//! three times, 100 ms doubling up to 1.6 s apart plus up to 100 ms of jitter; a 429 or 503
//! with `Retry-After` waits at least that long (at most 30 s); nothing outlasts the export's
//! timeout.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use axum::http::header;
use opentelemetry_http::{Bytes, Response};

const MAX_RETRIES: u32 = 3;
const INITIAL_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_millis(1600);
const MAX_JITTER_MILLIS: u64 = 100;
const MAX_THROTTLE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// The specification's policy, for the OTLP traces endpoint.
    Backoff,
    /// One attempt: X-Ray's endpoint refuses for reasons a retry doesn't change.
    Never,
}

/// An attempt that did not deliver, and whether trying again may.
#[derive(Debug)]
pub struct Failure {
    pub why: String,
    kind: FailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    Final,
    Retryable,
    /// Retryable, no sooner than this.
    Throttled(Duration),
}

impl Failure {
    /// No answer: the connection failed or timed out.
    pub fn unanswered(why: String) -> Self {
        Failure {
            why,
            kind: FailureKind::Retryable,
        }
    }

    /// An answer that is not a success.
    pub fn answered(response: &Response<Bytes>, why: String) -> Self {
        let retry_after = || {
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| retry_after(value, SystemTime::now()))
        };
        let kind = match response.status().as_u16() {
            429 | 503 => retry_after().map_or(FailureKind::Retryable, FailureKind::Throttled),
            502 | 504 => FailureKind::Retryable,
            _ => FailureKind::Final,
        };
        Failure { why, kind }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

impl Retries {
    /// Runs `attempt` until it succeeds, fails for good, runs out of retries, or the next wait
    /// would end past `deadline` from now. Sleeps on the calling thread: the batch processor's.
    pub async fn run<T, F, Fut>(self, deadline: Duration, mut attempt: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut retries = 0;
        let mut delay = INITIAL_DELAY;
        let mut delay_cap = MAX_DELAY;
        loop {
            let failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if self == Retries::Never || retries == MAX_RETRIES {
                return Err(failure);
            }
            match failure.kind {
                FailureKind::Final => return Err(failure),
                FailureKind::Retryable => {}
                FailureKind::Throttled(asked) => {
                    let asked = asked.min(MAX_THROTTLE);
                    if asked > delay_cap {
                        delay_cap = MAX_THROTTLE;
                    }
                    delay = delay.max(asked);
                }
            }
            let wait = (delay + jitter()).min(delay_cap);
            if started.elapsed() + wait >= deadline {
                return Err(failure);
            }
            std::thread::sleep(wait);
            retries += 1;
            delay = (delay * 2).min(delay_cap);
        }
    }
}

/// Spreads retries from many processes; it needs to be unpredictable across processes only.
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| u64::from(since.subsec_nanos()));
    Duration::from_millis(nanos % (MAX_JITTER_MILLIS + 1))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Response<Bytes> {
        let mut response = Response::builder().status(status);
        if let Some(value) = retry_after {
            response = response.header(header::RETRY_AFTER, value);
        }
        response.body(Bytes::new()).unwrap()
    }

    async fn attempts_until_given_up(retries: Retries, status: u16) -> u32 {
        let attempts = Cell::new(0);
        let outcome =
            retries
                .run(Duration::from_secs(10), || {
                    attempts.set(attempts.get() + 1);
                    async move {
                        Err::<(), _>(Failure::answered(&answer(status, None), status.to_string()))
                    }
                })
                .await;
        assert!(outcome.is_err());
        attempts.get()
    }

    #[tokio::test]
    async fn the_retryable_answers_are_tried_four_times_and_the_others_once() {
        for status in [429, 502, 503, 504] {
            assert_eq!(
                attempts_until_given_up(Retries::Backoff, status).await,
                4,
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 413, 500] {
            assert_eq!(
                attempts_until_given_up(Retries::Backoff, status).await,
                1,
                "{status}"
            );
        }
        assert_eq!(attempts_until_given_up(Retries::Never, 503).await, 1);
    }

    #[tokio::test]
    async fn a_retry_after_that_would_pass_the_deadline_ends_the_export_at_once() {
        let attempts = Cell::new(0);
        let started = Instant::now();
        let outcome = Retries::Backoff
            .run(Duration::from_secs(2), || {
                attempts.set(attempts.get() + 1);
                async { Err::<(), _>(Failure::answered(&answer(429, Some("5")), "429".into())) }
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(attempts.get(), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
