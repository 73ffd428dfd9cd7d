//! The X-Ray service's centralized rules, as the daemon hands them over: each with its
//! reservoir (the quota the service grants this client, or one borrowed request a second)
//! and its fixed rate, counting what it decided for the next report.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use wildmatch::WildMatch;

use super::{PerSecond, SamplingRequest, by_rate, pattern, unix_seconds};
use crate::sync;

/// One rule as GetSamplingRules returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SamplingRuleSpec {
    pub(super) rule_name: String,
    pub(super) priority: i64,
    pub(super) fixed_rate: f64,
    pub(super) reservoir_size: u64,
    #[serde(default = "any")]
    pub(super) service_name: String,
    #[serde(default = "any")]
    pub(super) service_type: String,
    #[serde(default = "any")]
    pub(super) host: String,
    #[serde(rename = "HTTPMethod", default = "any")]
    pub(super) http_method: String,
    #[serde(rename = "URLPath", default = "any")]
    pub(super) url_path: String,
    #[serde(rename = "ResourceARN", default = "any")]
    pub(super) resource_arn: String,
    #[serde(default = "version_one")]
    pub(super) version: u32,
}

fn any() -> String {
    "*".to_owned()
}

fn version_one() -> u32 {
    1
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Statistics {
    pub(super) requests: u64,
    pub(super) sampled: u64,
    pub(super) borrowed: u64,
}

/// A rule's reservoir: the quota the X-Ray service granted this client, valid until its TTL;
/// without a valid quota, one request a second may be borrowed.
#[derive(Debug, Default)]
pub(super) struct Reservoir {
    pub(super) quota: Option<u64>,
    pub(super) quota_expires: f64,
    pub(super) this_second: PerSecond,
}

enum ReservoirDecision {
    Take,
    Borrow,
    No,
}

impl Reservoir {
    fn borrow_or_take(&mut self, now: SystemTime, can_borrow: bool) -> ReservoirDecision {
        match self.quota {
            Some(quota) if unix_seconds(now) < self.quota_expires => {
                if self.this_second.take(now, quota) {
                    ReservoirDecision::Take
                } else {
                    ReservoirDecision::No
                }
            }
            _ if can_borrow && self.this_second.take(now, 1) => ReservoirDecision::Borrow,
            _ => ReservoirDecision::No,
        }
    }
}

#[derive(Debug)]
pub(super) struct CentralizedRule {
    pub(super) spec: SamplingRuleSpec,
    pub(super) service_name: WildMatch,
    pub(super) host: WildMatch,
    pub(super) method: WildMatch,
    pub(super) path: WildMatch,
    pub(super) state: Mutex<RuleState>,
}

#[derive(Debug)]
pub(super) struct RuleState {
    pub(super) rate: f64,
    pub(super) reservoir: Reservoir,
    pub(super) statistics: Statistics,
}

impl CentralizedRule {
    pub(super) fn new(spec: SamplingRuleSpec) -> Self {
        CentralizedRule {
            service_name: pattern(&spec.service_name),
            host: pattern(&spec.host),
            method: pattern(&spec.http_method),
            path: pattern(&spec.url_path),
            state: Mutex::new(RuleState {
                rate: spec.fixed_rate,
                reservoir: Reservoir::default(),
                statistics: Statistics::default(),
            }),
            spec,
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, RuleState> {
        sync::lock(&self.state)
    }

    /// Service type is matched only as `*`: this backend runs on no AWS platform it could name.
    pub(super) fn matches(&self, request: &SamplingRequest) -> bool {
        self.spec.service_type == "*"
            && self.service_name.matches(request.service_name)
            && self.host.matches(request.host)
            && self.method.matches(request.method)
            && self.path.matches(request.path)
    }

    pub(super) fn sample(&self, now: SystemTime) -> bool {
        let mut state = self.state();
        state.statistics.requests += 1;
        let can_borrow = self.spec.reservoir_size > 0;
        match state.reservoir.borrow_or_take(now, can_borrow) {
            ReservoirDecision::Take => {
                state.statistics.sampled += 1;
                true
            }
            ReservoirDecision::Borrow => {
                state.statistics.borrowed += 1;
                true
            }
            ReservoirDecision::No if by_rate(state.rate) => {
                state.statistics.sampled += 1;
                true
            }
            ReservoirDecision::No => false,
        }
    }
}

#[derive(Debug)]
pub(super) struct CentralizedRules {
    /// By priority, then name, as the X-Ray service orders them.
    pub(super) rules: Vec<Arc<CentralizedRule>>,
    pub(super) fetched: Instant,
    pub(super) fetched_at: SystemTime,
}

/// Centralized rules not refreshed for this long are stale: the local rules decide again.
pub(super) const CENTRALIZED_RULES_TTL: Duration = Duration::from_secs(60 * 60);
