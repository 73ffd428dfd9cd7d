//! X-Ray sampling as the X-Ray SDKs do it: the centralized rules of the X-Ray service, fetched
//! through the daemon's TCP proxy or, without the daemon, from X-Ray's API (`polling.rs`), with
//! their reservoirs, borrowing and fixed rates; and the local rules (the SDKs' version-2 file
//! format) whenever the centralized ones are missing or stale. It decides only what X-Ray
//! receives.
//!
//! Written here because no Rust crate implements X-Ray's sampling: opentelemetry-aws has no
//! sampler, and the SDK's samplers know nothing of rules, reservoirs or the daemon.

mod centralized;
mod local;
mod polling;
mod rate;

use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use rand::Rng;

use crate::losses::LossCounter;
use crate::sync;
use crate::trace_format::hex;
use centralized::CentralizedRules;
pub use local::LocalRules;
pub use polling::PollIntervals;
use rate::PerSecond;

/// What a sampling decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct SamplingRequest<'a> {
    pub service_name: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
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

/// At most `per_second` a second, counted per wall-clock second as X-Ray's reservoirs are.
#[derive(Debug)]
pub struct PerSecondLimit {
    per_second: u64,
    taken: Mutex<PerSecond>,
}

impl PerSecondLimit {
    pub fn new(per_second: u64) -> Self {
        PerSecondLimit {
            per_second,
            taken: Mutex::default(),
        }
    }

    /// Takes one of this second's, if any is left.
    pub fn take(&self) -> bool {
        self.take_at(SystemTime::now())
    }

    fn take_at(&self, now: SystemTime) -> bool {
        sync::lock(&self.taken).take(now, self.per_second)
    }
}

/// An upstream's `Sampled=1`, honoured for at most `per_second` traces a second, a reservoir of
/// its own; past it the rules decide as if the header had said nothing. A client sends that
/// header as easily as a load balancer does, and must not make every request X-Ray's.
#[derive(Debug)]
pub struct ForcedSamples {
    limit: PerSecondLimit,
    refused: LossCounter,
}

impl ForcedSamples {
    pub fn new(per_second: u64) -> Self {
        ForcedSamples {
            limit: PerSecondLimit::new(per_second),
            refused: LossCounter::default(),
        }
    }

    /// Whether this `Sampled=1` is honoured; refusals are counted and logged at a bounded rate.
    pub fn admit(&self) -> bool {
        self.admit_at(SystemTime::now())
    }

    fn admit_at(&self, now: SystemTime) -> bool {
        if self.limit.take_at(now) {
            return true;
        }
        if let Some(report) = self.refused.add(1) {
            tracing::info!(
                parent: None,
                refused = report.since_last_report,
                total = report.total,
                per_second = self.limit.per_second,
                "an upstream's Sampled=1 past its limit a second: the sampling rules decided instead"
            );
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::testing::at;
    use super::*;

    #[test]
    fn forced_samples_are_honoured_up_to_their_limit_each_second() {
        let forced = ForcedSamples::new(3);
        let first_second: Vec<bool> = (0..5).map(|_| forced.admit_at(at(0))).collect();
        assert_eq!(first_second, [true, true, true, false, false]);
        assert!(forced.admit_at(at(1)), "a new second refills the reservoir");
        let never = ForcedSamples::new(0);
        assert!(!never.admit_at(at(0)), "0: only the rules decide");
    }
}

#[cfg(test)]
pub(super) mod testing {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::SamplingRequest;
    use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

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
