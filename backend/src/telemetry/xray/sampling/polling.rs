//! The X-Ray service's sampling API: GetSamplingRules every few minutes, and SamplingTargets
//! (each rule's statistics out, its quota and rate back) every few seconds; through the
//! daemon's TCP proxy, which signs for us, or straight to X-Ray's endpoint, signed here.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use axum::http::{HeaderValue, header};

use super::XraySampler;
use super::centralized::{CentralizedRules, SamplingRuleSpec};
use super::rate::unix_seconds;
use crate::sync;
use crate::telemetry::aws_signing::SigV4;
use crate::telemetry::outbound::{read_at_most, without_redirects};

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

impl XraySampler {
    /// Keeps the centralized rules fresh through the daemon's TCP proxy at `daemon`
    /// (`host:port`), for as long as the returned task runs.
    pub fn poll_daemon(
        self: &Arc<Self>,
        daemon: &str,
        intervals: PollIntervals,
    ) -> tokio::task::JoinHandle<()> {
        self.poll(format!("http://{daemon}"), None, intervals)
    }

    /// Keeps the centralized rules fresh straight from X-Ray's API at `endpoint`
    /// (`https://xray.<region>.amazonaws.com`), each call signed by `signer`.
    pub fn poll_api(
        self: &Arc<Self>,
        endpoint: &str,
        signer: Arc<SigV4>,
        intervals: PollIntervals,
    ) -> tokio::task::JoinHandle<()> {
        self.poll(endpoint.to_owned(), Some(signer), intervals)
    }

    fn poll(
        self: &Arc<Self>,
        base: String,
        signer: Option<Arc<SigV4>>,
        intervals: PollIntervals,
    ) -> tokio::task::JoinHandle<()> {
        let sampler = self.clone();
        tokio::spawn(async move {
            if let Some(signer) = &signer {
                // The first call would otherwise go before the credential chain answered.
                signer.ready().await;
            }
            let api = Api { base, signer };
            // Not the traced client: sampling traffic is telemetry, and must not make spans.
            let client = match without_redirects(reqwest::Client::builder())
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
                    match sampler.refresh_rules(&client, &api).await {
                        Ok(count) => {
                            tracing::debug!(count, "X-Ray sampling rules fetched");
                            reported_failure = false;
                        }
                        Err(error) if !reported_failure => {
                            tracing::warn!(%error, "X-Ray sampling rules unavailable: local rules apply");
                            reported_failure = true;
                        }
                        Err(_) => {}
                    }
                    next_rules = Instant::now() + intervals.rules;
                }
                tokio::time::sleep(intervals.targets).await;
                match sampler.report_and_refresh_targets(&client, &api).await {
                    Ok(rules_changed) if rules_changed => next_rules = Instant::now(),
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "X-Ray sampling targets unavailable"),
                }
            }
        })
    }

    async fn refresh_rules(&self, client: &reqwest::Client, api: &Api) -> Result<usize, String> {
        let response: GetSamplingRulesResponse =
            post(client, api, "/GetSamplingRules", &serde_json::json!({})).await?;
        let specs = response
            .sampling_rule_records
            .into_iter()
            .take(MAX_RULES)
            .map(|record| record.sampling_rule);
        let mut centralized = sync::write(&self.centralized);
        let rules = CentralizedRules::refreshed(specs, centralized.take());
        let count = rules.len();
        *centralized = Some(rules);
        Ok(count)
    }

    /// Sends each rule's statistics and applies the targets that come back. True when the
    /// service says the rules changed since they were fetched.
    async fn report_and_refresh_targets(
        &self,
        client: &reqwest::Client,
        api: &Api,
    ) -> Result<bool, String> {
        let (rules, fetched_at) = {
            let centralized = sync::read(&self.centralized);
            match centralized.as_ref() {
                Some(centralized) => (centralized.rules.clone(), centralized.fetched_at()),
                None => return Ok(false),
            }
        };
        let timestamp = unix_seconds(SystemTime::now());
        let documents: Vec<SamplingStatisticsDocument> = rules
            .iter()
            .map(|rule| {
                let statistics = rule.take_statistics();
                SamplingStatisticsDocument {
                    rule_name: rule.name().to_owned(),
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
            post(client, api, "/SamplingTargets", &body).await?;
        for target in response
            .sampling_target_documents
            .into_iter()
            .take(MAX_RULES)
        {
            if let Some(rule) = rules.iter().find(|rule| rule.name() == target.rule_name) {
                rule.apply_target(
                    target.fixed_rate,
                    target.reservoir_quota,
                    target.reservoir_quota_ttl,
                );
            }
        }
        Ok(response
            .last_rule_modification
            .is_some_and(|modified| modified > unix_seconds(fetched_at)))
    }
}

/// X-Ray allows 25 sampling rules an account; answers are a few KB. Bounds with room to spare,
/// so a broken or hostile proxy can't make every request's rule matching long.
const MAX_RULES: usize = 100;
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Where the sampling calls go, and what signs them (nothing: the daemon's proxy does).
struct Api {
    base: String,
    signer: Option<Arc<SigV4>>,
}

async fn post<T: for<'de> Deserialize<'de>>(
    client: &reqwest::Client,
    api: &Api,
    path: &str,
    body: &serde_json::Value,
) -> Result<T, String> {
    let url = format!("{}{path}", api.base);
    let body = serde_json::to_vec(body).map_err(|error| error.to_string())?;
    let mut request = client
        .post(&url)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .body(body.clone())
        .build()
        .map_err(|error| error.without_url().to_string())?;
    if let Some(signer) = &api.signer {
        signer
            .sign("POST", &url, request.headers_mut(), &body)
            .map_err(|error| error.to_string())?;
    }
    let response = client
        .execute(request)
        .await
        .map_err(|error| error.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{path} answered {}", response.status()));
    }
    let body = read_at_most(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|error| format!("{path}: {error}"))?;
    serde_json::from_slice(&body).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::telemetry::xray::sampling::LocalRules;
    use crate::telemetry::xray::sampling::SamplingRequest;
    use crate::telemetry::xray::sampling::testing::{HOME, at, count_sampled};
    use axum::Json;
    use axum::routing::post;
    use serde_json::{Value, json};

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
