//! What every rule's decision is made of: X-Ray's patterns, a per-second quota, a fixed rate.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use wildmatch::WildMatch;

/// X-Ray's patterns: `*` and `?`, ignoring case.
pub(super) fn pattern(text: &str) -> WildMatch {
    WildMatch::new_case_insensitive(text)
}

pub(super) fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Counts what one rule may take per second.
#[derive(Debug, Default)]
pub(super) struct PerSecond {
    second: u64,
    used: u64,
}

impl PerSecond {
    pub(super) fn take(&mut self, now: SystemTime, limit: u64) -> bool {
        let second = unix_seconds(now) as u64;
        if second != self.second {
            self.second = second;
            self.used = 0;
        }
        if self.used < limit {
            self.used += 1;
            true
        } else {
            false
        }
    }
}

pub(super) fn by_rate(rate: f64) -> bool {
    rate > 0.0 && rand::rng().random::<f64>() < rate
}
