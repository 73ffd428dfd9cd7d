//! `aws/`: the sampling rule matches the segments the backend sends, and the setup script is
//! safe to run twice (against a stand-in for the AWS CLI that keeps state like the service).

use std::path::{Path, PathBuf};
use std::process::Command;

use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

#[test]
fn the_sampling_rule_names_the_service_the_segments_use() {
    let rule: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repository_root().join("aws/json/xray.json")).unwrap(),
    )
    .unwrap();
    let rule = &rule["SamplingRule"];
    assert_eq!(rule["ServiceName"], DEFAULT_SERVICE_NAME);
    assert_eq!(rule["RuleName"], "Cruddur");
    assert_eq!(rule["ReservoirSize"], 5);
    assert_eq!(rule["FixedRate"], 0.1);
    assert_eq!(rule["Version"], 1);
}

/// Answers like the AWS CLI for the calls the script makes, keeping the group and the rule
/// as files, and logs each call.
const FAKE_AWS: &str = r#"#!/usr/bin/env bash
state=$(dirname "$0")/state
mkdir -p "$state"
echo "$*" >> "$state/calls"
case "$2" in
  get-group) [ -f "$state/group" ] || { echo "GroupNotFound" >&2; exit 254; } ;;
  create-group|update-group) echo "$*" > "$state/group" ;;
  get-sampling-rules) if [ -f "$state/rule" ]; then echo 1; else echo 0; fi ;;
  create-sampling-rule)
    file=${4#file://}
    python3 -c 'import json,sys; assert "SamplingRule" in json.load(open(sys.argv[1]))' "$file" || exit 252
    touch "$state/rule" ;;
  update-sampling-rule)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1])["SamplingRuleUpdate"]; assert "Version" not in r and r["RuleName"]=="Cruddur"' "$4" || exit 252 ;;
  get-caller-identity) echo 111122223333 ;;
  get) echo eu-west-1 ;;
  put-resource-policy) python3 -c 'import json,sys; json.loads(sys.argv[1])' "$6" || exit 252; echo "$6" > "$state/logs-policy" ;;
  update-trace-segment-destination) echo "$*" > "$state/destination" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

/// A directory with the stand-in `aws` in it, removed when dropped.
struct FakeAwsCli {
    bin: PathBuf,
}

impl FakeAwsCli {
    fn new(name: &str) -> Self {
        let bin =
            std::env::temp_dir().join(format!("cruddur-fake-aws-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&bin).unwrap();
        let aws = bin.join("aws");
        std::fs::write(&aws, FAKE_AWS).unwrap();
        Command::new("chmod").arg("+x").arg(&aws).status().unwrap();
        FakeAwsCli { bin }
    }

    /// Runs the setup script with `arguments` against the stand-in; its output.
    fn setup(&self, arguments: &[&str]) -> String {
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap());
        let output = Command::new("bash")
            .arg(repository_root().join("aws/bin/xray-setup"))
            .args(arguments)
            .env("PATH", &path)
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn state(&self, file: &str) -> String {
        std::fs::read_to_string(self.bin.join("state").join(file)).unwrap_or_default()
    }
}

impl Drop for FakeAwsCli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.bin);
    }
}

#[test]
fn the_xray_setup_script_creates_then_updates_the_group_and_rule() {
    let cli = FakeAwsCli::new("setup");
    let run = || cli.setup(&[]);
    let first = run();
    assert!(first.contains("group Cruddur: created"), "{first}");
    assert!(first.contains("rule Cruddur: created"), "{first}");
    let second = run();
    assert!(second.contains("group Cruddur: updated"), "{second}");
    assert!(second.contains("rule Cruddur: updated"), "{second}");

    let calls = cli.state("calls");
    assert!(
        calls.contains(r#"--filter-expression service("cruddur-backend")"#),
        "{calls}"
    );
    assert!(
        cli.state("destination").is_empty(),
        "Transaction Search only when asked"
    );
}

#[test]
fn the_xray_setup_script_turns_on_transaction_search_for_this_account_only() {
    let cli = FakeAwsCli::new("search");
    let output = cli.setup(&["--transaction-search"]);
    assert!(output.contains("Transaction Search on"), "{output}");
    assert!(
        cli.state("destination")
            .contains("update-trace-segment-destination --destination CloudWatchLogs"),
        "{}",
        cli.state("destination")
    );
    let policy: serde_json::Value = serde_json::from_str(&cli.state("logs-policy")).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "xray.amazonaws.com");
    assert_eq!(statement["Action"], "logs:PutLogEvents");
    assert_eq!(
        statement["Resource"][0],
        "arn:aws:logs:eu-west-1:111122223333:log-group:aws/spans:*"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        "111122223333"
    );
}

#[test]
fn the_xray_setup_script_prints_the_iam_policy_the_backend_needs_without_calling_aws() {
    let cli = FakeAwsCli::new("policy");
    let policy: serde_json::Value =
        serde_json::from_str(&cli.setup(&["--print-iam-policy"])).unwrap();
    let actions: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|statement| statement["Action"].as_array().unwrap())
        .map(|action| action.as_str().unwrap())
        .collect();
    for needed in [
        "xray:PutTraceSegments",
        "xray:PutSpans",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ] {
        assert!(actions.contains(&needed), "{needed} in {actions:?}");
    }
    assert!(cli.state("calls").is_empty());
}
