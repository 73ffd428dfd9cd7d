//! `aws/`: the sampling rule matches the segments the backend sends, and the setup script is
//! safe to run twice (against a stand-in for the AWS CLI that keeps state like the service).

use std::path::{Path, PathBuf};
use std::process::Command;

use backend::configuration::DEFAULT_SERVICE_NAME;

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
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

#[test]
fn the_xray_setup_script_creates_then_updates_the_group_and_rule() {
    let fake_bin = std::env::temp_dir().join(format!("cruddur-fake-aws-{}", std::process::id()));
    std::fs::create_dir_all(&fake_bin).unwrap();
    let aws = fake_bin.join("aws");
    std::fs::write(&aws, FAKE_AWS).unwrap();
    Command::new("chmod").arg("+x").arg(&aws).status().unwrap();
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap());

    let run = || {
        let output = Command::new("bash")
            .arg(repository_root().join("aws/bin/xray-setup"))
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    assert!(first.contains("group Cruddur: created"), "{first}");
    assert!(first.contains("rule Cruddur: created"), "{first}");
    let second = run();
    assert!(second.contains("group Cruddur: updated"), "{second}");
    assert!(second.contains("rule Cruddur: updated"), "{second}");

    let calls = std::fs::read_to_string(fake_bin.join("state/calls")).unwrap();
    assert!(
        calls.contains(r#"--filter-expression service("cruddur-backend")"#),
        "{calls}"
    );
    std::fs::remove_dir_all(&fake_bin).unwrap();
}
