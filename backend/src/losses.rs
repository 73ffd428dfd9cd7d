//! Counts what telemetry gives up on purpose (values cut to the length limit, X-Ray details
//! shed, forced samples refused) and lets the caller log it at most once per interval, with the
//! count since the last line: a flood of hostile requests costs one log line per interval,
//! never one per request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sync;

const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// What to log: how many since the last report, and since the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossReport {
    pub since_last_report: u64,
    pub total: u64,
}

#[derive(Debug)]
pub struct LossCounter {
    total: AtomicU64,
    unreported: AtomicU64,
    last_report: Mutex<Option<Instant>>,
    interval: Duration,
}

impl Default for LossCounter {
    fn default() -> Self {
        LossCounter::reporting_every(REPORT_INTERVAL)
    }
}

impl LossCounter {
    /// Reports at most once per `interval`.
    pub fn reporting_every(interval: Duration) -> Self {
        LossCounter {
            total: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            last_report: Mutex::new(None),
            interval,
        }
    }

    /// Counts `count` more; returns the report to log when one is due (the first loss, then
    /// at most one per interval).
    pub fn add(&self, count: u64) -> Option<LossReport> {
        self.add_at(count, Instant::now())
    }

    fn add_at(&self, count: u64, now: Instant) -> Option<LossReport> {
        if count == 0 {
            return None;
        }
        self.total.fetch_add(count, Ordering::Relaxed);
        self.unreported.fetch_add(count, Ordering::Relaxed);
        let mut last_report = sync::lock(&self.last_report);
        if last_report.is_some_and(|at| now.saturating_duration_since(at) < self.interval) {
            return None;
        }
        *last_report = Some(now);
        Some(LossReport {
            since_last_report: self.unreported.swap(0, Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_reported_at_once_then_at_most_once_per_interval_with_nothing_missed() {
        let counter = LossCounter::default();
        let start = Instant::now();
        assert_eq!(counter.add_at(0, start), None, "nothing lost, nothing said");
        assert_eq!(
            counter.add_at(2, start),
            Some(LossReport {
                since_last_report: 2,
                total: 2
            })
        );
        for _ in 0..1000 {
            assert_eq!(counter.add_at(1, start + Duration::from_secs(1)), None);
        }
        assert_eq!(
            counter.add_at(1, start + REPORT_INTERVAL),
            Some(LossReport {
                since_last_report: 1001,
                total: 1003
            })
        );
    }
}
