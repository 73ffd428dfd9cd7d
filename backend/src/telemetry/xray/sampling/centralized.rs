//! The X-Ray service's centralized rules, as the daemon hands them over: each with its
//! reservoir (the quota the service grants this client, or one borrowed request a second)
//! and its fixed rate, counting what it decided for the next report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use wildmatch::WildMatch;

use super::SamplingRequest;
use super::rate::{PerSecond, by_rate, pattern, unix_seconds};
use crate::sync;

/// One rule as GetSamplingRules returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SamplingRuleSpec {
    rule_name: String,
    priority: i64,
    fixed_rate: f64,
    reservoir_size: u64,
    #[serde(default = "any")]
    service_name: String,
    #[serde(default = "any")]
    service_type: String,
    #[serde(default = "any")]
    host: String,
    #[serde(rename = "HTTPMethod", default = "any")]
    http_method: String,
    #[serde(rename = "URLPath", default = "any")]
    url_path: String,
    #[serde(rename = "ResourceARN", default = "any")]
    resource_arn: String,
    #[serde(default = "version_one")]
    version: u32,
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
    quota_expires: f64,
    this_second: PerSecond,
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
    spec: SamplingRuleSpec,
    service_name: WildMatch,
    host: WildMatch,
    method: WildMatch,
    path: WildMatch,
    state: Mutex<RuleState>,
}

#[derive(Debug)]
pub(super) struct RuleState {
    rate: f64,
    pub(super) reservoir: Reservoir,
    statistics: Statistics,
}

impl CentralizedRule {
    fn new(spec: SamplingRuleSpec) -> Self {
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

    /// A rule the service still has, with the same rate and reservoir size, keeps its
    /// reservoir and statistics.
    fn keeping(spec: SamplingRuleSpec, previous: Option<&CentralizedRule>) -> Self {
        let rule = CentralizedRule::new(spec);
        if let Some(kept) = previous.filter(|kept| {
            kept.spec.fixed_rate == rule.spec.fixed_rate
                && kept.spec.reservoir_size == rule.spec.reservoir_size
        }) {
            let mut kept_state = kept.state();
            let mut state = rule.state();
            state.rate = kept_state.rate;
            state.reservoir = std::mem::take(&mut kept_state.reservoir);
            state.statistics = kept_state.statistics;
        }
        rule
    }

    pub(super) fn state(&self) -> MutexGuard<'_, RuleState> {
        sync::lock(&self.state)
    }

    pub(super) fn name(&self) -> &str {
        &self.spec.rule_name
    }

    /// What the rule decided since the last report; the counts start again from zero.
    pub(super) fn take_statistics(&self) -> Statistics {
        std::mem::take(&mut self.state().statistics)
    }

    /// What SamplingTargets granted: a new fixed rate, and a quota valid until `quota_ttl`
    /// (Unix seconds).
    pub(super) fn apply_target(
        &self,
        fixed_rate: Option<f64>,
        quota: Option<u64>,
        quota_ttl: Option<f64>,
    ) {
        let mut state = self.state();
        if let Some(rate) = fixed_rate {
            state.rate = rate;
        }
        if let Some(quota) = quota {
            state.reservoir.quota = Some(quota);
            state.reservoir.quota_expires = quota_ttl.unwrap_or(0.0);
        }
    }

    /// Service type is matched only as `*`: this backend runs on no AWS platform it could name.
    fn matches(&self, request: &SamplingRequest) -> bool {
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
    fetched: Instant,
    fetched_at: SystemTime,
}

/// Centralized rules not refreshed for this long are stale: the local rules decide again.
const CENTRALIZED_RULES_TTL: Duration = Duration::from_secs(60 * 60);

impl CentralizedRules {
    /// The rules GetSamplingRules returned, replacing `previous`: only those the SDKs can
    /// apply, by priority then name.
    pub(super) fn refreshed(
        specs: impl IntoIterator<Item = SamplingRuleSpec>,
        previous: Option<CentralizedRules>,
    ) -> Self {
        let mut specs: Vec<SamplingRuleSpec> = specs
            .into_iter()
            .filter(|rule| rule.version == 1 && rule.resource_arn == "*")
            .collect();
        specs.sort_by(|a, b| (a.priority, &a.rule_name).cmp(&(b.priority, &b.rule_name)));
        let previous: HashMap<String, Arc<CentralizedRule>> = previous
            .map(|old| {
                old.rules
                    .into_iter()
                    .map(|rule| (rule.spec.rule_name.clone(), rule))
                    .collect()
            })
            .unwrap_or_default();
        let rules = specs
            .into_iter()
            .map(|spec| {
                let kept = previous.get(&spec.rule_name).map(Arc::as_ref);
                Arc::new(CentralizedRule::keeping(spec, kept))
            })
            .collect();
        CentralizedRules {
            rules,
            fetched: Instant::now(),
            fetched_at: SystemTime::now(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rules.len()
    }

    /// When they were fetched, to compare with the service's last rule modification.
    pub(super) fn fetched_at(&self) -> SystemTime {
        self.fetched_at
    }

    /// The first matching rule, unless the rules are stale: then the local rules decide.
    pub(super) fn matching(&self, request: &SamplingRequest) -> Option<&CentralizedRule> {
        if self.fetched.elapsed() >= CENTRALIZED_RULES_TTL {
            return None;
        }
        self.rules
            .iter()
            .find(|rule| rule.matches(request))
            .map(Arc::as_ref)
    }
}
