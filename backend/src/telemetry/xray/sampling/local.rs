//! The local rules: the SDKs' version-2 rules file, or their default of one request a second
//! and 5% of the rest. They decide whenever the centralized rules are missing or stale.

use std::sync::Mutex;
use std::time::SystemTime;

use serde::Deserialize;
use wildmatch::WildMatch;

use super::SamplingRequest;
use super::rate::{PerSecond, by_rate, pattern};
use crate::sync;

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
        let took = sync::lock(&self.reservoir).take(now, self.fixed_target);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::xray::sampling::testing::{HOME, at, count_sampled};

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
}
