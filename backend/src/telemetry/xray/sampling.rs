//! X-Ray sampling as the X-Ray SDKs do it: the centralized rules of the X-Ray service, fetched
//! through the daemon's TCP proxy, with their reservoirs, borrowing and fixed rates; and the
//! local rules (the SDKs' version-2 file format) whenever the centralized ones are missing or
//! stale. It decides only what X-Ray receives.
//!
//! Written here because no Rust crate implements X-Ray's sampling: opentelemetry-aws has no
//! sampler, and the SDK's samplers know nothing of rules, reservoirs or the daemon.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

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

// ---------------------------------------------------------------------------------------------
// Local rules

/// The SDKs' version-2 local rules file.
#[derive(Debug, Deserialize)]
struct LocalRulesFile {
    version: u32,
    #[serde(default)]
    rules: Vec<LocalRuleSpec>,
    default: DefaultRuleSpec,
}

#[derive(Debug, Deserialize)]
struct LocalRuleSpec {
    #[serde(default)]
    description: String,
    host: String,
    http_method: String,
    url_path: String,
    fixed_target: u64,
    rate: f64,
}

#[derive(Debug, Deserialize)]
struct DefaultRuleSpec {
    fixed_target: u64,
    rate: f64,
}

#[derive(Debug)]
struct LocalRule {
    description: String,
    host: WildMatch,
    method: WildMatch,
    path: WildMatch,
    fixed_target: u64,
    rate: f64,
    reservoir: Mutex<PerSecond>,
}

impl LocalRule {
    fn matches(&self, request: &SamplingRequest) -> bool {
        self.host.matches(request.host)
            && self.method.matches(request.method)
            && self.path.matches(request.path)
    }

    /// The first `fixed_target` requests of each second, then `rate` of the rest.
    fn sample(&self, now: SystemTime) -> bool {
        let took = self
            .reservoir
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(now, self.fixed_target);
        took || by_rate(self.rate)
    }
}

#[derive(Debug)]
pub struct LocalRules {
    rules: Vec<LocalRule>,
    default: LocalRule,
}

impl LocalRules {
    /// The SDKs' default: one request a second, then 5% of the rest.
    pub const DEFAULT_JSON: &str =
        r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05}}"#;

    pub fn parse(json: &str) -> Result<LocalRules, String> {
        let file: LocalRulesFile =
            serde_json::from_str(json).map_err(|error| format!("not a rules file: {error}"))?;
        if file.version != 2 {
            return Err(format!("version {} is not 2", file.version));
        }
        let valid_rate = |rate: f64| (0.0..=1.0).contains(&rate);
        if !valid_rate(file.default.rate) || file.rules.iter().any(|rule| !valid_rate(rule.rate)) {
            return Err("every rate must be between 0 and 1".to_owned());
        }
        let rule =
            |description: String, host: &str, method: &str, path: &str, fixed_target, rate| {
                LocalRule {
                    description,
                    host: pattern(host),
                    method: pattern(method),
                    path: pattern(path),
                    fixed_target,
                    rate,
                    reservoir: Mutex::default(),
                }
            };
        Ok(LocalRules {
            rules: file
                .rules
                .into_iter()
                .map(|spec| {
                    rule(
                        spec.description,
                        &spec.host,
                        &spec.http_method,
                        &spec.url_path,
                        spec.fixed_target,
                        spec.rate,
                    )
                })
                .collect(),
            default: rule(
                "default".to_owned(),
                "*",
                "*",
                "*",
                file.default.fixed_target,
                file.default.rate,
            ),
        })
    }

    pub fn default_rules() -> LocalRules {
        LocalRules::parse(Self::DEFAULT_JSON).expect("the default rules parse")
    }

    pub fn sample(&self, request: &SamplingRequest, now: SystemTime) -> bool {
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.matches(request))
            .unwrap_or(&self.default);
        tracing::trace!(rule = %rule.description, "local sampling rule");
        rule.sample(now)
    }
}

// ---------------------------------------------------------------------------------------------
// Centralized rules

/// One rule as GetSamplingRules returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SamplingRuleSpec {
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSamplingRulesResponse {
    #[serde(default)]
    sampling_rule_records: Vec<SamplingRuleRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SamplingRuleRecord {
    sampling_rule: SamplingRuleSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SamplingStatisticsDocument {
    rule_name: String,
    #[serde(rename = "ClientID")]
    client_id: String,
    timestamp: f64,
    request_count: u64,
    sampled_count: u64,
    borrow_count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SamplingTargetsResponse {
    #[serde(default)]
    sampling_target_documents: Vec<SamplingTargetDocument>,
    last_rule_modification: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SamplingTargetDocument {
    rule_name: String,
    fixed_rate: Option<f64>,
    reservoir_quota: Option<u64>,
    #[serde(rename = "ReservoirQuotaTTL")]
    reservoir_quota_ttl: Option<f64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Statistics {
    requests: u64,
    sampled: u64,
    borrowed: u64,
}

/// A rule's reservoir: the quota the X-Ray service granted this client, valid until its TTL;
/// without a valid quota, one request a second may be borrowed.
#[derive(Debug, Default)]
struct Reservoir {
    quota: Option<u64>,
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
struct CentralizedRule {
    spec: SamplingRuleSpec,
    service_name: WildMatch,
    host: WildMatch,
    method: WildMatch,
    path: WildMatch,
    state: Mutex<RuleState>,
}

#[derive(Debug)]
struct RuleState {
    rate: f64,
    reservoir: Reservoir,
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

    fn state(&self) -> std::sync::MutexGuard<'_, RuleState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Service type is matched only as `*`: this backend runs on no AWS platform it could name.
    fn matches(&self, request: &SamplingRequest) -> bool {
        self.spec.service_type == "*"
            && self.service_name.matches(request.service_name)
            && self.host.matches(request.host)
            && self.method.matches(request.method)
            && self.path.matches(request.path)
    }

    fn sample(&self, now: SystemTime) -> bool {
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
struct CentralizedRules {
    /// By priority, then name, as the X-Ray service orders them.
    rules: Vec<Arc<CentralizedRule>>,
    fetched: Instant,
    fetched_at: SystemTime,
}

/// Centralized rules not refreshed for this long are stale: the local rules decide again.
const CENTRALIZED_RULES_TTL: Duration = Duration::from_secs(60 * 60);

/// How often the daemon is asked for rules and for targets (the SDKs' intervals).
#[derive(Debug, Clone, Copy)]
pub struct PollIntervals {
    pub rules: Duration,
    pub targets: Duration,
}

impl PollIntervals {
    pub const SDK: PollIntervals = PollIntervals {
        rules: Duration::from_secs(300),
        targets: Duration::from_secs(10),
    };
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
            client_id: client_id.iter().map(|byte| format!("{byte:02x}")).collect(),
        }
    }

    pub fn sample(&self, request: &SamplingRequest) -> bool {
        self.sample_at(request, SystemTime::now())
    }

    fn sample_at(&self, request: &SamplingRequest, now: SystemTime) -> bool {
        let centralized = self
            .centralized
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match centralized.as_ref() {
            Some(centralized) if centralized.fetched.elapsed() < CENTRALIZED_RULES_TTL => {
                match centralized.rules.iter().find(|rule| rule.matches(request)) {
                    Some(rule) => rule.sample(now),
                    None => self.local.sample(request, now),
                }
            }
            _ => self.local.sample(request, now),
        }
    }

    /// Keeps the centralized rules fresh through the daemon's TCP proxy at `daemon`
    /// (`host:port`), for as long as the returned task runs.
    pub fn poll_daemon(
        self: &Arc<Self>,
        daemon: &str,
        intervals: PollIntervals,
    ) -> tokio::task::JoinHandle<()> {
        let sampler = self.clone();
        let base = format!("http://{daemon}");
        tokio::spawn(async move {
            // Not the traced client: sampling traffic is telemetry, and must not make spans.
            let client = match reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
            {
                Ok(client) => client,
                Err(error) => {
                    tracing::warn!(%error, "X-Ray centralized sampling is off");
                    return;
                }
            };
            let mut reported_failure = false;
            let mut next_rules = Instant::now();
            loop {
                if Instant::now() >= next_rules {
                    match sampler.refresh_rules(&client, &base).await {
                        Ok(count) => {
                            tracing::debug!(count, "X-Ray sampling rules fetched");
                            reported_failure = false;
                        }
                        Err(error) if !reported_failure => {
                            tracing::warn!(%error, "X-Ray sampling rules unavailable from the daemon: local rules apply");
                            reported_failure = true;
                        }
                        Err(_) => {}
                    }
                    next_rules = Instant::now() + intervals.rules;
                }
                tokio::time::sleep(intervals.targets).await;
                match sampler.report_and_refresh_targets(&client, &base).await {
                    Ok(rules_changed) if rules_changed => next_rules = Instant::now(),
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "X-Ray sampling targets unavailable"),
                }
            }
        })
    }

    async fn refresh_rules(&self, client: &reqwest::Client, base: &str) -> Result<usize, String> {
        let response: GetSamplingRulesResponse =
            post(client, base, "/GetSamplingRules", &serde_json::json!({})).await?;
        let mut specs: Vec<SamplingRuleSpec> = response
            .sampling_rule_records
            .into_iter()
            .map(|record| record.sampling_rule)
            // The SDKs keep only the rules they can apply.
            .filter(|rule| rule.version == 1 && rule.resource_arn == "*")
            .collect();
        specs.sort_by(|a, b| (a.priority, &a.rule_name).cmp(&(b.priority, &b.rule_name)));
        let mut centralized = self
            .centralized
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A rule that is still there keeps its reservoir and statistics.
        let previous: HashMap<String, Arc<CentralizedRule>> = centralized
            .take()
            .map(|old| {
                old.rules
                    .into_iter()
                    .map(|rule| (rule.spec.rule_name.clone(), rule))
                    .collect()
            })
            .unwrap_or_default();
        let rules: Vec<Arc<CentralizedRule>> = specs
            .into_iter()
            .map(|spec| match previous.get(&spec.rule_name) {
                Some(kept)
                    if kept.spec.fixed_rate == spec.fixed_rate
                        && kept.spec.reservoir_size == spec.reservoir_size =>
                {
                    let rule = CentralizedRule::new(spec);
                    let mut kept_state = kept.state();
                    let mut state = rule.state();
                    state.rate = kept_state.rate;
                    state.reservoir = std::mem::take(&mut kept_state.reservoir);
                    state.statistics = kept_state.statistics;
                    drop(state);
                    Arc::new(rule)
                }
                _ => Arc::new(CentralizedRule::new(spec)),
            })
            .collect();
        let count = rules.len();
        *centralized = Some(CentralizedRules {
            rules,
            fetched: Instant::now(),
            fetched_at: SystemTime::now(),
        });
        Ok(count)
    }

    /// Sends each rule's statistics and applies the targets that come back. True when the
    /// service says the rules changed since they were fetched.
    async fn report_and_refresh_targets(
        &self,
        client: &reqwest::Client,
        base: &str,
    ) -> Result<bool, String> {
        let (rules, fetched_at) = {
            let centralized = self
                .centralized
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match centralized.as_ref() {
                Some(centralized) => (centralized.rules.clone(), centralized.fetched_at),
                None => return Ok(false),
            }
        };
        let timestamp = unix_seconds(SystemTime::now());
        let documents: Vec<SamplingStatisticsDocument> = rules
            .iter()
            .map(|rule| {
                let statistics = std::mem::take(&mut rule.state().statistics);
                SamplingStatisticsDocument {
                    rule_name: rule.spec.rule_name.clone(),
                    client_id: self.client_id.clone(),
                    timestamp,
                    request_count: statistics.requests,
                    sampled_count: statistics.sampled,
                    borrow_count: statistics.borrowed,
                }
            })
            .collect();
        let body = serde_json::json!({ "SamplingStatisticsDocuments": documents });
        let response: SamplingTargetsResponse =
            post(client, base, "/SamplingTargets", &body).await?;
        for target in response.sampling_target_documents {
            if let Some(rule) = rules
                .iter()
                .find(|rule| rule.spec.rule_name == target.rule_name)
            {
                let mut state = rule.state();
                if let Some(rate) = target.fixed_rate {
                    state.rate = rate;
                }
                if let Some(quota) = target.reservoir_quota {
                    state.reservoir.quota = Some(quota);
                    state.reservoir.quota_expires = target.reservoir_quota_ttl.unwrap_or(0.0);
                }
            }
        }
        Ok(response
            .last_rule_modification
            .is_some_and(|modified| modified > unix_seconds(fetched_at)))
    }
}

async fn post<T: for<'de> Deserialize<'de>>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<T, String> {
    let response = client
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{path} answered {}", response.status()));
    }
    response.json().await.map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Json;
    use axum::routing::post;
    use serde_json::{Value, json};

    const HOME: SamplingRequest = SamplingRequest {
        service_name: "cruddur-backend",
        host: "localhost:4567",
        method: "GET",
        path: "/api/activities/home",
    };

    fn at(second: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + second)
    }

    fn count_sampled(decide: impl Fn() -> bool, times: usize) -> usize {
        (0..times).filter(|_| decide()).count()
    }

    #[test]
    fn the_default_rule_takes_one_a_second_then_five_percent() {
        let rules = LocalRules::default_rules();
        let first_second = count_sampled(|| rules.sample(&HOME, at(0)), 2000);
        // 1 from the reservoir, then Binomial(1999, 0.05): mean 100, sd 9.7; ±5 sd.
        assert!((52..=150).contains(&first_second), "{first_second}");
        assert!(
            rules.sample(&HOME, at(1)),
            "a new second refills the reservoir"
        );
    }

    #[test]
    fn rules_of_all_and_nothing_sample_all_and_nothing() {
        let all =
            LocalRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":1}}"#).unwrap();
        let none =
            LocalRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":0}}"#).unwrap();
        assert_eq!(count_sampled(|| all.sample(&HOME, at(0)), 500), 500);
        assert_eq!(count_sampled(|| none.sample(&HOME, at(0)), 500), 0);
    }

    #[test]
    fn the_first_matching_rule_decides_by_host_method_and_path() {
        let rules = LocalRules::parse(
            r#"{"version": 2,
                "rules": [
                  {"description": "posts", "host": "*", "http_method": "POST", "url_path": "/api/*", "fixed_target": 0, "rate": 1},
                  {"description": "other hosts", "host": "*.example.com", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": 1}
                ],
                "default": {"fixed_target": 0, "rate": 0}}"#,
        )
        .unwrap();
        let post = SamplingRequest {
            method: "post",
            ..HOME
        };
        let elsewhere = SamplingRequest {
            host: "API.example.com",
            ..HOME
        };
        assert!(rules.sample(&post, at(0)), "methods match ignoring case");
        assert!(rules.sample(&elsewhere, at(0)), "hosts match ignoring case");
        assert!(!rules.sample(&HOME, at(0)));
    }

    #[test]
    fn malformed_local_rules_are_refused_with_a_reason() {
        assert!(LocalRules::parse("{}").is_err());
        assert!(
            LocalRules::parse(r#"{"version":1,"default":{"fixed_target":1,"rate":0.1}}"#).is_err()
        );
        assert!(
            LocalRules::parse(r#"{"version":2,"default":{"fixed_target":1,"rate":2}}"#).is_err()
        );
    }

    /// The daemon's TCP proxy: serves the given rules and quota, keeps the statistics it gets.
    async fn fake_daemon(rules: Value, quota: u64) -> (String, Arc<Mutex<Vec<Value>>>) {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let store = reports.clone();
        let router = axum::Router::new()
            .route(
                "/GetSamplingRules",
                post(move || async move { Json(json!({ "SamplingRuleRecords": rules })) }),
            )
            .route(
                "/SamplingTargets",
                post(move |Json(body): Json<Value>| async move {
                    store.lock().unwrap().push(body);
                    let ttl = unix_seconds(SystemTime::now()) + 3600.0;
                    Json(json!({
                        "SamplingTargetDocuments": [{
                            "RuleName": "Cruddur", "FixedRate": 0.0,
                            "ReservoirQuota": quota, "ReservoirQuotaTTL": ttl, "Interval": 10
                        }],
                        "LastRuleModification": 0
                    }))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (address, reports)
    }

    fn rule(name: &str, priority: i64, path: &str, reservoir: u64, rate: f64) -> Value {
        json!({"SamplingRule": {
            "RuleName": name, "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir,
            "ServiceName": "cruddur-*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
            "URLPath": path, "ResourceARN": "*", "Version": 1
        }})
    }

    async fn wait_until(condition: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the condition came true");
    }

    #[tokio::test]
    async fn centralized_rules_borrow_until_their_quota_arrives_then_take_it() {
        let rules = json!([
            rule("Default", 10000, "*", 0, 0.0),
            rule("Cruddur", 10, "/api/*", 5, 0.0),
        ]);
        let (daemon, reports) = fake_daemon(rules, 3).await;
        let everything = r#"{"version":2,"default":{"fixed_target":0,"rate":1}}"#;
        let sampler = Arc::new(XraySampler::new(LocalRules::parse(everything).unwrap()));
        let intervals = PollIntervals {
            rules: Duration::from_secs(300),
            targets: Duration::from_millis(50),
        };
        let poller = sampler.poll_daemon(&daemon, intervals);
        let has_rules = || sampler.centralized.read().unwrap().is_some();
        wait_until(has_rules).await;

        // Before any target: one borrowed request a second, the fixed rate (0) for the rest.
        let cruddur = |second| count_sampled(|| sampler.sample_at(&HOME, at(second)), 20);
        assert_eq!(cruddur(0), 1);
        let health = SamplingRequest {
            path: "/health",
            ..HOME
        };
        assert_eq!(
            count_sampled(|| sampler.sample_at(&health, at(0)), 20),
            0,
            "the Default rule (no reservoir, rate 0) decides what Cruddur's rule does not match"
        );

        wait_until(|| !reports.lock().unwrap().is_empty()).await;
        let has_quota = || {
            sampler.centralized.read().unwrap().as_ref().unwrap().rules[0]
                .state()
                .reservoir
                .quota
                == Some(3)
        };
        wait_until(has_quota).await;
        let now = SystemTime::now();
        assert_eq!(
            count_sampled(|| sampler.sample_at(&HOME, now), 20),
            3,
            "the quota, each second"
        );
        poller.abort();

        let reports = reports.lock().unwrap().clone();
        let cruddur_stats = reports
            .iter()
            .flat_map(|report| {
                report["SamplingStatisticsDocuments"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .find(|document| document["RuleName"] == "Cruddur" && document["RequestCount"] != 0)
            .expect("the requests were reported");
        assert_eq!(cruddur_stats["RequestCount"], 20);
        assert_eq!(cruddur_stats["BorrowCount"], 1);
        assert_eq!(cruddur_stats["ClientID"].as_str().unwrap().len(), 24);
    }

    #[tokio::test]
    async fn without_a_daemon_the_local_rules_decide() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        let none = r#"{"version":2,"default":{"fixed_target":0,"rate":0}}"#;
        let sampler = Arc::new(XraySampler::new(LocalRules::parse(none).unwrap()));
        let poller = sampler.poll_daemon(&closed, PollIntervals::SDK);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sampler.centralized.read().unwrap().is_none());
        assert_eq!(count_sampled(|| sampler.sample(&HOME), 50), 0);
        poller.abort();
    }
}
