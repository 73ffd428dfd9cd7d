//! X-Ray's settings: the AWS X-Ray SDK's variables, with the SDK's meanings, and this
//! backend's own for X-Ray without the daemon.

use crate::environment::{ConfigurationError, Env};
use crate::redact::Secret;

/// The AWS X-Ray SDK's variables, with the SDK's meanings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XraySettings {
    /// `AWS_XRAY_SDK_ENABLED` (true); `false` turns X-Ray off.
    pub enabled: bool,
    /// `AWS_XRAY_DAEMON_ADDRESS`: `host:port` for both, or `tcp:host:port udp:host:port`.
    pub daemon: DaemonAddress,
    /// `AWS_XRAY_TRACING_NAME`, else the service name.
    pub tracing_name: Option<String>,
    /// `AWS_XRAY_URL`: a Host pattern (`*`, `?`); matching requests' segments are named after their host.
    pub dynamic_naming: Option<String>,
    /// `AWS_XRAY_SAMPLING_RULES`: local sampling rules, as JSON text or the path of a JSON file.
    pub sampling_rules: Option<String>,
    /// `CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND` (10): how many traces a second an incoming
    /// `Sampled=1` may put in X-Ray; past that the sampling rules decide. 0: the rules always do.
    pub forced_samples_per_second: u64,
    pub context_missing: ContextMissing,
    /// `CRUDDUR_XRAY_EXPORTER=daemon|otlp` (daemon): where the spans of sampled traces go.
    pub destination: XrayDestination,
    /// The region whose X-Ray console shows the traces, for the trace view's links: the OTLP
    /// mode's region, else `AWS_REGION`, else `AWS_DEFAULT_REGION` (the daemon's own region is
    /// not known here). None when no valid one is set.
    pub console_region: Option<String>,
}

/// Where X-Ray's spans go: segments to the daemon, or OTLP straight to X-Ray's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrayDestination {
    Daemon,
    Otlp(XrayOtlpSettings),
}

/// `CRUDDUR_XRAY_EXPORTER=otlp`: X-Ray without a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayOtlpSettings {
    /// `CRUDDUR_XRAY_OTLP_ENDPOINT`, else `https://xray.<region>.amazonaws.com/v1/traces`.
    pub endpoint: String,
    /// `CRUDDUR_XRAY_API_ENDPOINT`, else `https://xray.<region>.amazonaws.com`: where
    /// GetSamplingRules and GetSamplingTargets go.
    pub api_endpoint: String,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the endpoint's own region.
    pub region: String,
    /// `CRUDDUR_XRAY_API_KEY`: sent as `Authorization: Bearer <key>` instead of a SigV4
    /// signature. It can only send spans: sampling then follows the local rules.
    pub api_key: Option<Secret>,
}

/// The region of an X-Ray endpoint (`xray.<region>.amazonaws.com`, or `.amazonaws.com.cn`),
/// None for any other address.
pub fn xray_endpoint_region(endpoint: &str) -> Option<String> {
    let url = reqwest::Url::parse(endpoint.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let region = host
        .strip_prefix("xray.")?
        .strip_suffix(".amazonaws.com")
        .or_else(|| {
            host.strip_prefix("xray.")
                .and_then(|rest| rest.strip_suffix(".amazonaws.com.cn"))
        })?;
    valid_region(region).then(|| region.to_owned())
}

/// `us-west-2`: letters, digits and dashes; anything else would change the addresses it is
/// put in.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '-')
}

/// `CRUDDUR_XRAY_EXPORTER` and the settings its `otlp` mode needs. The region is needed to
/// build the default endpoints and to sign; an endpoint of X-Ray's own names its region.
fn xray_destination_from(
    exporter: Option<String>,
    otlp_endpoint: Option<String>,
    api_endpoint: Option<String>,
    region: Option<String>,
    api_key: Option<String>,
) -> Result<XrayDestination, ConfigurationError> {
    match exporter
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("daemon") => return Ok(XrayDestination::Daemon),
        Some("otlp") => {}
        Some(_) => {
            return Err(ConfigurationError::Invalid {
                name: "CRUDDUR_XRAY_EXPORTER",
                expected: "daemon or otlp",
                value: exporter.unwrap_or_default(),
            });
        }
    }
    let otlp_endpoint = otlp_endpoint.map(|endpoint| endpoint.trim().to_owned());
    let region = region
        .map(|region| region.trim().to_owned())
        .or_else(|| otlp_endpoint.as_deref().and_then(xray_endpoint_region))
        .ok_or(ConfigurationError::Invalid {
            name: "AWS_REGION",
            expected: "set (or AWS_DEFAULT_REGION) when CRUDDUR_XRAY_EXPORTER=otlp: X-Ray's \
                       endpoints and signatures are per region",
            value: String::new(),
        })?;
    let region_host = format!("https://xray.{region}.amazonaws.com");
    Ok(XrayDestination::Otlp(XrayOtlpSettings {
        endpoint: otlp_endpoint.unwrap_or_else(|| format!("{region_host}/v1/traces")),
        api_endpoint: api_endpoint
            .map(|endpoint| endpoint.trim().trim_end_matches('/').to_owned())
            .unwrap_or(region_host),
        region,
        api_key: api_key.map(|key| Secret::new(key.trim().to_owned())),
    }))
}

/// Where the X-Ray daemon listens: segments go to its UDP port, sampling calls to its TCP proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonAddress {
    pub udp: String,
    pub tcp: String,
}

impl DaemonAddress {
    pub const DEFAULT: &str = "127.0.0.1:2000";

    /// `host:port`, or both forms of the SDKs: `tcp:host:port udp:host:port` in either order.
    pub fn parse(value: &str) -> Option<DaemonAddress> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [both] if is_host_port(both) => Some(DaemonAddress {
                udp: (*both).to_owned(),
                tcp: (*both).to_owned(),
            }),
            [first, second] => {
                let mut udp = None;
                let mut tcp = None;
                for part in [first, second] {
                    match part.split_once(':') {
                        Some(("udp", address)) if is_host_port(address) => udp = Some(address),
                        Some(("tcp", address)) if is_host_port(address) => tcp = Some(address),
                        _ => return None,
                    }
                }
                Some(DaemonAddress {
                    udp: udp?.to_owned(),
                    tcp: tcp?.to_owned(),
                })
            }
            _ => None,
        }
    }
}

fn is_host_port(value: &str) -> bool {
    value.rsplit_once(':').is_some_and(|(host, port)| {
        // A colon in the host only inside brackets: `[::1]:2000`.
        let plain_host = !host.contains(':') || (host.starts_with('[') && host.ends_with(']'));
        !host.is_empty() && plain_host && port.parse::<u16>().is_ok()
    })
}

/// `AWS_XRAY_CONTEXT_MISSING`: what to do with a span that belongs to no request's segment.
/// The SDKs throw on `RUNTIME_ERROR`; here the choice is made on the exporter's thread, long
/// after the request, so it logs like `LOG_ERROR`: telemetry never breaks the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextMissing {
    LogError,
    IgnoreError,
}

const DEFAULT_FORCED_SAMPLES_PER_SECOND: u64 = 10;

impl XraySettings {
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let daemon = match env.var("AWS_XRAY_DAEMON_ADDRESS") {
            None => DaemonAddress::parse(DaemonAddress::DEFAULT).expect("the default parses"),
            Some(value) => DaemonAddress::parse(&value).ok_or(ConfigurationError::Invalid {
                name: "AWS_XRAY_DAEMON_ADDRESS",
                expected: "host:port, or tcp:host:port udp:host:port",
                value,
            })?,
        };
        let destination = xray_destination_from(
            env.var("CRUDDUR_XRAY_EXPORTER"),
            env.var("CRUDDUR_XRAY_OTLP_ENDPOINT"),
            env.var("CRUDDUR_XRAY_API_ENDPOINT"),
            env.var("AWS_REGION")
                .or_else(|| env.var("AWS_DEFAULT_REGION")),
            env.var("CRUDDUR_XRAY_API_KEY"),
        )?;
        let console_region = match &destination {
            XrayDestination::Otlp(otlp) => Some(otlp.region.clone()),
            XrayDestination::Daemon => env
                .var("AWS_REGION")
                .or_else(|| env.var("AWS_DEFAULT_REGION"))
                .map(|region| region.trim().to_owned()),
        }
        .filter(|region| valid_region(region));
        Ok(XraySettings {
            enabled: env.standard_boolean("AWS_XRAY_SDK_ENABLED", true)?,
            daemon,
            tracing_name: env.var("AWS_XRAY_TRACING_NAME"),
            dynamic_naming: env.var("AWS_XRAY_URL"),
            sampling_rules: env.var("AWS_XRAY_SAMPLING_RULES"),
            forced_samples_per_second: match env.var("CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND") {
                None => DEFAULT_FORCED_SAMPLES_PER_SECOND,
                Some(value) => value
                    .trim()
                    .parse()
                    .map_err(|_| ConfigurationError::Invalid {
                        name: "CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND",
                        expected: "a whole number (0: never forced)",
                        value,
                    })?,
            },
            context_missing: match env.var("AWS_XRAY_CONTEXT_MISSING").as_deref() {
                Some(value) if value.trim().eq_ignore_ascii_case("IGNORE_ERROR") => {
                    ContextMissing::IgnoreError
                }
                _ => ContextMissing::LogError,
            },
            destination,
            console_region,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_address_takes_both_sdk_forms() {
        let both = DaemonAddress::parse("xray-daemon:2000").unwrap();
        assert_eq!(
            (both.udp.as_str(), both.tcp.as_str()),
            ("xray-daemon:2000", "xray-daemon:2000")
        );
        let split = DaemonAddress::parse("tcp:127.0.0.1:2001 udp:127.0.0.2:2002").unwrap();
        assert_eq!(
            (split.udp.as_str(), split.tcp.as_str()),
            ("127.0.0.2:2002", "127.0.0.1:2001")
        );
        let reversed = DaemonAddress::parse("udp:a:1 tcp:b:2").unwrap();
        assert_eq!(
            (reversed.udp.as_str(), reversed.tcp.as_str()),
            ("a:1", "b:2")
        );
        for bad in [
            "",
            "2000",
            "udp:a:1",
            "udp:a:1 udp:b:2",
            "tcp:a:x udp:b:2",
            "a:99999",
        ] {
            assert_eq!(DaemonAddress::parse(bad), None, "{bad}");
        }
    }
}
