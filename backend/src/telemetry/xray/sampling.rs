//! X-Ray sampling as the X-Ray SDKs do it: the centralized rules of the X-Ray service, fetched
//! through the daemon's TCP proxy, with their reservoirs, borrowing and fixed rates; and the
//! local rules (the SDKs' version-2 file format) whenever the centralized ones are missing or
//! stale. It decides only what X-Ray receives.
//!
//! Written here because no Rust crate implements X-Ray's sampling: opentelemetry-aws has no
//! sampler, and the SDK's samplers know nothing of rules, reservoirs or the daemon.

mod centralized;
mod daemon;
mod local;

use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use wildmatch::WildMatch;

use crate::sync;
use crate::telemetry::hex;
use centralized::CentralizedRules;
pub use daemon::PollIntervals;
pub use local::LocalRules;

/// What a sampling decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct SamplingRequest<'a> {
    pub service_name: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
}

/// X-Ray's patterns: `*` and `?`, ignoring case.
fn pattern(text: &str) -> WildMatch {
    WildMatch::new_case_insensitive(text)
}

fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Counts what one rule may take per second.
#[derive(Debug, Default)]
struct PerSecond {
    second: u64,
    used: u64,
}

impl PerSecond {
    fn take(&mut self, now: SystemTime, limit: u64) -> bool {
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

fn by_rate(rate: f64) -> bool {
    rate > 0.0 && rand::rng().random::<f64>() < rate
}

/// Decides, per request, whether X-Ray receives its trace.
#[derive(Debug)]
pub struct XraySampler {
    local: LocalRules,
    centralized: RwLock<Option<CentralizedRules>>,
    client_id: String,
}

impl XraySampler {
    pub fn new(local: LocalRules) -> Self {
        let client_id: [u8; 12] = rand::rng().random();
        XraySampler {
            local,
            centralized: RwLock::new(None),
            client_id: hex(&client_id),
        }
    }

    pub fn sample(&self, request: &SamplingRequest) -> bool {
        self.sample_at(request, SystemTime::now())
    }

    fn sample_at(&self, request: &SamplingRequest, now: SystemTime) -> bool {
        let centralized = sync::read(&self.centralized);
        match centralized
            .as_ref()
            .and_then(|centralized| centralized.matching(request))
        {
            Some(rule) => rule.sample(now),
            None => self.local.sample(request, now),
        }
    }
}

#[cfg(test)]
pub(super) mod testing {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::SamplingRequest;
    use crate::configuration::DEFAULT_SERVICE_NAME;

    pub const HOME: SamplingRequest = SamplingRequest {
        service_name: DEFAULT_SERVICE_NAME,
        host: "localhost:4567",
        method: "GET",
        path: "/api/activities/home",
    };

    pub fn at(second: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + second)
    }

    pub fn count_sampled(decide: impl Fn() -> bool, times: usize) -> usize {
        (0..times).filter(|_| decide()).count()
    }
}
