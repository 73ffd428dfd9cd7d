//! Everything the backend reads from its environment, read once at startup: the server's own
//! variables here, and each area's from its own `settings.rs` (clients, relay, trace view,
//! telemetry), which this module calls and which know nothing of it.
//! The OpenTelemetry SDK and exporter read the standard `OTEL_*` variables themselves; the
//! backend only reads the ones it must decide on.

use std::env;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::http::HeaderValue;

use crate::clients::address::TrustedProxies;
use crate::clients::settings as clients;
use crate::database::settings::DatabaseSettings;
use crate::environment::{Env, switch};
use crate::relay::settings::RelaySettings;
use crate::telemetry::settings::TelemetrySettings;
use crate::trace_view::settings::LocalTracesSettings;

pub use crate::environment::ConfigurationError;

pub const DEFAULT_PORT: u16 = 4567;
pub const DEFAULT_FRONTEND_URL: &str = "http://localhost:3000";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `PORT`; 0 asks the system for a free one.
    pub port: u16,
    /// `CRUDDUR_BIND`: the address to listen on; every interface unless told otherwise, or
    /// 127.0.0.1 with the dev endpoints on, which refuse anything beyond loopback.
    pub bind: IpAddr,
    /// `FRONTEND_URL`: the only origin browsers may call the API from.
    pub frontend_origin: HeaderValue,
    pub telemetry: TelemetrySettings,
    pub local_traces: LocalTracesSettings,
    pub relay: RelaySettings,
    /// `CRUDDUR_TRUSTED_PROXIES`: the networks whose forwarded header says who the client is
    /// (a comma-separated list of CIDRs); empty by default, so the peer is. The header is
    /// `CRUDDUR_FORWARDED_HEADER`: `x-forwarded-for` (the default) or `forwarded`, never both.
    pub trusted_proxies: TrustedProxies,
    /// `CRUDDUR_SHUTDOWN_TIMEOUT` in seconds (5): how long in-flight requests may run after
    /// SIGTERM. The relay's drain and the exporters' flush follow within their own bounds, so
    /// the whole exit fits in Docker's default 10 s grace period.
    pub shutdown_timeout: Duration,
    /// `CRUDDUR_DRAIN_DELAY` in seconds (0): how long the server serves on after SIGTERM while
    /// answering not ready, before it stops accepting (`readiness`).
    pub drain_delay: Duration,
    /// `CRUDDUR_DEV_ENDPOINTS` (off), a switch: on, serve the development tools' endpoints under `/api/dev/`
    /// (`routes::dev`). Off by default: they call out on a caller's behalf.
    pub dev_endpoints: bool,
    pub database: DatabaseSettings,
    /// `CRUDDUR_WRITE_BUDGET` (30): POST requests each client may make a minute, as many at
    /// once; past it, 429 with `Retry-After`.
    pub write_budget: u32,
    /// `CRUDDUR_READ_BUDGET` (600): GET requests each client may make a minute, as many at
    /// once; past it, 429 with `Retry-After`.
    pub read_budget: u32,
    /// `CRUDDUR_SEARCH_BUDGET` (30): searches each client may make a minute, as many at once,
    /// instead of reads; past it, 429 with `Retry-After`.
    pub search_budget: u32,
}

impl Settings {
    /// The process's environment.
    pub fn from_env() -> Result<Self, ConfigurationError> {
        Settings::from_lookup(|name| env::var(name).ok())
    }

    /// The variables `lookup` gives, as if they were the environment: tests build their
    /// settings with it, without touching the process's environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigurationError> {
        let env = Env::new(&lookup);
        let dev_endpoints = dev_endpoints_enabled(env.var("CRUDDUR_DEV_ENDPOINTS"))?;
        Ok(Settings {
            port: port_from(env.var("PORT"))?,
            bind: bind_address_from(env.var("CRUDDUR_BIND"), dev_endpoints)?,
            frontend_origin: frontend_origin_from(env.var("FRONTEND_URL"))?,
            telemetry: TelemetrySettings::read(&env)?,
            local_traces: LocalTracesSettings::read(&env)?,
            relay: RelaySettings::read(&env)?,
            trusted_proxies: clients::trusted_proxies(&env)?,
            shutdown_timeout: Duration::from_secs(
                env.positive("CRUDDUR_SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT_SECONDS)? as u64,
            ),
            drain_delay: drain_delay_from(env.var("CRUDDUR_DRAIN_DELAY"))?,
            dev_endpoints,
            database: DatabaseSettings::read(&env)?,
            write_budget: clients::write_budget(&env)?,
            read_budget: clients::read_budget(&env)?,
            search_budget: clients::search_budget(&env)?,
        })
    }
}

const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS: usize = 5;

/// `CRUDDUR_DRAIN_DELAY`: whole seconds, none by default (no load balancer to wait for).
fn drain_delay_from(value: Option<String>) -> Result<Duration, ConfigurationError> {
    match value {
        None => Ok(Duration::ZERO),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigurationError::Invalid {
                name: "CRUDDUR_DRAIN_DELAY",
                expected: "a whole number of seconds",
                value,
            }),
    }
}

fn dev_endpoints_enabled(value: Option<String>) -> Result<bool, ConfigurationError> {
    switch("CRUDDUR_DEV_ENDPOINTS", value, false)
}

fn port_from(value: Option<String>) -> Result<u16, ConfigurationError> {
    match value {
        None => Ok(DEFAULT_PORT),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigurationError::Invalid {
                name: "PORT",
                expected: "a port number (0-65535)",
                value,
            }),
    }
}

/// An IPv4 or IPv6 address without a port (`127.0.0.1`, `::1`); when unset, `0.0.0.0`, or
/// `127.0.0.1` with the dev endpoints on. The dev endpoints call out on a caller's behalf, so
/// with them on, an address beyond this machine is refused.
fn bind_address_from(
    value: Option<String>,
    dev_endpoints: bool,
) -> Result<IpAddr, ConfigurationError> {
    let Some(value) = value else {
        return Ok(if dev_endpoints {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
    };
    let address = value.trim();
    // `[::1]`, as IPv6 addresses are written in URLs, is meant as `::1`.
    let address = address
        .strip_prefix('[')
        .and_then(|address| address.strip_suffix(']'))
        .unwrap_or(address);
    match address.parse::<IpAddr>() {
        Ok(address) if dev_endpoints && !address.is_loopback() => {
            Err(ConfigurationError::Invalid {
                name: "CRUDDUR_BIND",
                expected: "a loopback address such as 127.0.0.1 or ::1 while \
                           CRUDDUR_DEV_ENDPOINTS=1 (the dev endpoints call out on a caller's \
                           behalf)",
                value,
            })
        }
        Ok(address) => Ok(address),
        Err(_) => Err(ConfigurationError::Invalid {
            name: "CRUDDUR_BIND",
            expected: "an IP address without a port, such as 127.0.0.1 or ::1",
            value,
        }),
    }
}

fn frontend_origin_from(value: Option<String>) -> Result<HeaderValue, ConfigurationError> {
    // Browsers send the origin without a trailing slash; a URL copied from the address bar has one.
    let url = value.unwrap_or_else(|| DEFAULT_FRONTEND_URL.to_owned());
    let origin = url.trim().trim_end_matches('/');
    let valid = origin.starts_with("http://") || origin.starts_with("https://");
    match HeaderValue::from_str(origin) {
        Ok(origin) if valid => Ok(origin),
        _ => Err(ConfigurationError::Invalid {
            name: "FRONTEND_URL",
            expected: "an http:// or https:// origin such as http://localhost:3000",
            value: url,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Secret;
    use crate::telemetry::otlp::settings::{OtlpCompression, OtlpProtocol};
    use crate::telemetry::xray::settings::{XrayDestination, xray_endpoint_region};

    #[test]
    fn every_switch_takes_on_off_true_false_1_and_0_and_anything_else_fails_startup_naming_it() {
        type Read = fn(&Settings) -> bool;
        let switches: [(&str, Read); 3] = [
            ("CRUDDUR_SEED_DATA", |settings| settings.database.seed_data),
            ("CRUDDUR_LOCAL_TRACES", |settings| {
                settings.local_traces.enabled
            }),
            ("CRUDDUR_DEV_ENDPOINTS", |settings| settings.dev_endpoints),
        ];
        for (name, read) in switches {
            for (value, expected) in [
                ("on", true),
                ("TRUE", true),
                ("1", true),
                ("Off", false),
                ("false", false),
                ("0", false),
            ] {
                let settings = settings(&[(name, value)]).unwrap();
                assert_eq!(read(&settings), expected, "{name}={value}");
            }
            for other in ["yes", "no", "enable"] {
                let error = settings(&[(name, other)]).unwrap_err().to_string();
                assert_eq!(
                    error,
                    format!("{name} must be on, off, true, false, 1 or 0, got {other:?}")
                );
            }
        }
    }

    #[test]
    fn the_standards_booleans_take_only_true_and_false_as_their_specifications_read_them() {
        type Read = fn(&Settings) -> bool;
        let booleans: [(&str, Read); 2] = [
            ("OTEL_SDK_DISABLED", |settings| {
                settings.telemetry.sdk_disabled
            }),
            ("AWS_XRAY_SDK_ENABLED", |settings| {
                settings.telemetry.xray.enabled
            }),
        ];
        for (name, read) in booleans {
            for (value, expected) in [("true", true), ("TRUE", true), ("False", false)] {
                let settings = settings(&[(name, value)]).unwrap();
                assert_eq!(read(&settings), expected, "{name}={value}");
            }
            for other in ["1", "0", "on", "yes"] {
                let error = settings(&[(name, other)]).unwrap_err().to_string();
                assert_eq!(
                    error,
                    format!("{name} must be true or false, got {other:?}")
                );
            }
        }
    }

    #[test]
    fn honeycomb_api_key_alone_sends_spans_to_honeycomb_and_an_endpoint_wins() {
        let telemetry = |variables: &[(&str, &str)]| settings(variables).unwrap().telemetry;
        let only_key = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_HEADERS", ""),
        ]);
        assert_eq!(
            only_key.traces_endpoint.as_deref(),
            Some("https://api.honeycomb.io/v1/traces")
        );
        assert_eq!(only_key.headers.names(), "x-honeycomb-team");
        let over_grpc = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(
            over_grpc.traces_endpoint.as_deref(),
            Some("https://api.honeycomb.io:443")
        );
        assert_eq!(over_grpc.headers.names(), "x-honeycomb-team");
        let collector = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
        ]);
        assert_eq!(
            collector.traces_endpoint.as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(telemetry(&[]).traces_endpoint, None);
    }

    #[test]
    fn honeycomb_api_key_goes_only_to_honeycombs_hosts() {
        let names = |endpoint: &str| {
            settings(&[
                ("HONEYCOMB_API_KEY", "k3y"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-dataset=cruddur"),
            ])
            .unwrap()
            .telemetry
            .headers
            .names()
        };
        for honeycomb in [
            "https://api.honeycomb.io",
            "https://api.eu1.honeycomb.io:443",
            "https://API.Honeycomb.IO.",
        ] {
            assert_eq!(
                names(honeycomb),
                "x-dataset,x-honeycomb-team",
                "{honeycomb}"
            );
        }
        for elsewhere in [
            "http://localhost:4318",
            "https://collector.example.com",
            "https://api.evilhoneycomb.io",
            "https://honeycomb.io.example.com",
            "https://api.honeycomb.io@attacker.example",
            "not a url",
        ] {
            assert_eq!(names(elsewhere), "x-dataset", "{elsewhere}");
        }
    }

    #[test]
    fn dev_endpoints_are_off_unless_set_to_1() {
        assert!(!dev_endpoints_enabled(None).unwrap());
        assert!(!dev_endpoints_enabled(Some("0".into())).unwrap());
        assert!(!dev_endpoints_enabled(Some(String::new())).unwrap());
        assert!(dev_endpoints_enabled(Some(" 1 ".into())).unwrap());
        assert!(dev_endpoints_enabled(Some("yes".into())).is_err());
    }

    #[test]
    fn the_write_budget_is_thirty_a_minute_unless_set() {
        let budget = |variables: &[(&str, &str)]| settings(variables).map(|s| s.write_budget);
        assert_eq!(budget(&[]).unwrap(), 30);
        assert_eq!(
            budget(&[("CRUDDUR_WRITE_BUDGET", "100000")]).unwrap(),
            100_000
        );
        for bad in ["0", "-1", "lots"] {
            let error = budget(&[("CRUDDUR_WRITE_BUDGET", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_WRITE_BUDGET"), "{error}");
        }
    }

    #[test]
    fn the_drain_delay_is_none_unless_set_in_whole_seconds() {
        let delay = |variables: &[(&str, &str)]| settings(variables).map(|s| s.drain_delay);
        assert_eq!(delay(&[]).unwrap(), Duration::ZERO);
        assert_eq!(
            delay(&[("CRUDDUR_DRAIN_DELAY", "15")]).unwrap(),
            Duration::from_secs(15)
        );
        for bad in ["-1", "1.5", "soon"] {
            let error = delay(&[("CRUDDUR_DRAIN_DELAY", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_DRAIN_DELAY"), "{error}");
        }
    }

    #[test]
    fn the_bind_address_is_every_interface_unless_an_address_is_given() {
        assert_eq!(
            bind_address_from(None, false).unwrap(),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            bind_address_from(Some("127.0.0.1".into()), false).unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            bind_address_from(Some("[::1]".into()), false).unwrap(),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        );
        for bad in ["localhost", "127.0.0.1:4567", "0.0.0"] {
            let error = bind_address_from(Some(bad.into()), false)
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_BIND"), "{error}");
        }
    }

    #[test]
    fn with_dev_endpoints_on_the_bind_is_loopback_by_default_and_nothing_wider_is_accepted() {
        let bind = |variables: &[(&str, &str)]| {
            let mut variables = variables.to_vec();
            variables.push(("CRUDDUR_DEV_ENDPOINTS", "1"));
            settings(&variables).map(|settings| settings.bind)
        };
        assert_eq!(bind(&[]).unwrap(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            bind(&[("CRUDDUR_BIND", "::1")]).unwrap(),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        );
        for wide in ["0.0.0.0", "::", "192.0.2.10"] {
            let error = bind(&[("CRUDDUR_BIND", wide)]).unwrap_err().to_string();
            assert!(
                error.contains("CRUDDUR_BIND") && error.contains("CRUDDUR_DEV_ENDPOINTS=1"),
                "{error}"
            );
        }
    }

    #[test]
    fn protobuf_is_the_default_protocol_and_an_unknown_one_fails_naming_the_choices() {
        let protocol = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.protocol)
        };
        assert_eq!(protocol(&[]).unwrap(), OtlpProtocol::HttpProtobuf);
        assert_eq!(
            protocol(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON")]).unwrap(),
            OtlpProtocol::HttpJson
        );
        assert_eq!(
            protocol(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", " grpc "),
            ])
            .unwrap(),
            OtlpProtocol::Grpc
        );
        let error = protocol(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc/json")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf, http/json or grpc, \
             got \"grpc/json\""
        );
    }

    fn settings(variables: &[(&str, &str)]) -> Result<Settings, ConfigurationError> {
        Settings::from_lookup(|name| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn the_export_timeout_is_in_milliseconds_and_the_traces_variable_wins() {
        let timeout = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.export_timeout)
        };
        assert_eq!(timeout(&[]).unwrap(), Duration::from_secs(10));
        assert_eq!(
            timeout(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            timeout(&[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            ])
            .unwrap(),
            Duration::from_millis(700)
        );
        assert!(matches!(
            timeout(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]),
            Err(ConfigurationError::Invalid {
                name: "OTEL_EXPORTER_OTLP_TIMEOUT",
                ..
            })
        ));
    }

    #[test]
    fn compression_is_none_unless_gzip_or_zstd_is_asked_and_anything_else_fails() {
        let compression = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.compression)
        };
        assert_eq!(compression(&[]).unwrap(), OtlpCompression::None);
        assert_eq!(
            compression(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")]).unwrap(),
            OtlpCompression::None
        );
        assert_eq!(
            compression(&[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP"),
            ])
            .unwrap(),
            OtlpCompression::Gzip
        );
        let error = compression(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "OTEL_EXPORTER_OTLP_COMPRESSION must be gzip, zstd or none, got \"brotli\""
        );
    }

    #[test]
    fn the_span_attribute_value_length_limit_wins_over_the_general_one() {
        let limit = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.attribute_value_length_limit)
        };
        assert_eq!(limit(&[]).unwrap(), 4096);
        assert_eq!(
            limit(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100")]).unwrap(),
            100
        );
        assert_eq!(
            limit(&[
                ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
                ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
            ])
            .unwrap(),
            64
        );
        let error = limit(&[("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
            "{error}"
        );
    }

    fn xray_destination(variables: &[(&str, &str)]) -> Result<XrayDestination, ConfigurationError> {
        settings(variables).map(|settings| settings.telemetry.xray.destination)
    }

    #[test]
    fn xray_goes_to_the_daemon_unless_switched_to_otlp() {
        assert_eq!(xray_destination(&[]).unwrap(), XrayDestination::Daemon);
        assert_eq!(
            xray_destination(&[("CRUDDUR_XRAY_EXPORTER", " Daemon ")]).unwrap(),
            XrayDestination::Daemon
        );
        let error = xray_destination(&[("CRUDDUR_XRAY_EXPORTER", "udp")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("CRUDDUR_XRAY_EXPORTER"), "{error}");
    }

    #[test]
    fn xray_over_otlp_defaults_to_the_regions_endpoints() {
        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(
            otlp.endpoint,
            "https://xray.eu-west-1.amazonaws.com/v1/traces"
        );
        assert_eq!(otlp.api_endpoint, "https://xray.eu-west-1.amazonaws.com");
        assert_eq!(otlp.region, "eu-west-1");
        assert_eq!(otlp.api_key, None);

        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(otlp.region, "us-east-2", "AWS_REGION wins");
    }

    #[test]
    fn xray_over_otlp_takes_its_region_from_an_xray_endpoint_and_needs_one() {
        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            (
                "CRUDDUR_XRAY_OTLP_ENDPOINT",
                "https://xray.ap-south-1.amazonaws.com/v1/traces",
            ),
            ("CRUDDUR_XRAY_API_ENDPOINT", "http://127.0.0.1:9/"),
            ("CRUDDUR_XRAY_API_KEY", "k3y"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(otlp.region, "ap-south-1");
        assert_eq!(otlp.api_endpoint, "http://127.0.0.1:9");
        assert_eq!(otlp.api_key.as_ref().map(Secret::expose), Some("k3y"));
        assert!(
            !format!("{otlp:?}").contains("k3y"),
            "the key is never shown"
        );

        let error = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            (
                "CRUDDUR_XRAY_OTLP_ENDPOINT",
                "http://127.0.0.1:4318/v1/traces",
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("AWS_REGION"), "{error}");
    }

    #[test]
    fn only_xray_endpoints_name_a_region_to_sign_for() {
        assert_eq!(
            xray_endpoint_region("https://xray.us-west-2.amazonaws.com/v1/traces").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            xray_endpoint_region("https://XRAY.cn-north-1.amazonaws.com.cn/v1/traces").as_deref(),
            Some("cn-north-1")
        );
        for other in [
            "https://api.honeycomb.io/v1/traces",
            "https://xray.amazonaws.com/v1/traces",
            "https://xray.us-west-2.amazonaws.com.evil.test/v1/traces",
            "http://localhost:4318/v1/traces",
            "not a url",
        ] {
            assert_eq!(xray_endpoint_region(other), None, "{other}");
        }
        let signed = settings(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://xray.us-west-2.amazonaws.com",
        )])
        .unwrap();
        assert_eq!(
            signed.telemetry.traces_endpoint_xray_region.as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn the_forwarded_header_is_x_forwarded_for_unless_set_and_anything_else_is_refused() {
        use crate::clients::address::ForwardedHeader;
        let proxies = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.trusted_proxies)
        };
        let trusted = ("CRUDDUR_TRUSTED_PROXIES", "10.0.0.0/8");
        let base = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            proxies(&[trusted]).unwrap(),
            base.clone().reading(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(
            proxies(&[trusted, ("CRUDDUR_FORWARDED_HEADER", "Forwarded")]).unwrap(),
            base.reading(ForwardedHeader::Forwarded)
        );
        let error = proxies(&[trusted, ("CRUDDUR_FORWARDED_HEADER", "both")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("CRUDDUR_FORWARDED_HEADER")
                && error.contains("x-forwarded-for or forwarded"),
            "{error}"
        );
    }

    #[test]
    fn local_traces_max_mb_past_its_cap_is_refused_rather_than_overflowing() {
        let limits = |mb: &'static str| {
            settings(&[("CRUDDUR_LOCAL_TRACES_MAX_MB", mb)]).map(|s| s.local_traces.limits)
        };
        assert_eq!(limits("4096").unwrap().max_bytes, 4096 * 1024 * 1024);
        for too_many in ["4097", "18446744073709551615"] {
            let error = limits(too_many).unwrap_err().to_string();
            assert!(
                error.contains("CRUDDUR_LOCAL_TRACES_MAX_MB") && error.contains("4096"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_bad_port_is_a_clear_error() {
        assert_eq!(port_from(None).unwrap(), DEFAULT_PORT);
        assert_eq!(port_from(Some("8080".into())).unwrap(), 8080);
        let error = port_from(Some("eighty".into())).unwrap_err().to_string();
        assert!(error.contains("PORT"), "{error}");
    }

    #[test]
    fn the_frontend_origin_loses_its_trailing_slash() {
        let origin = frontend_origin_from(Some("http://localhost:3000/".into())).unwrap();
        assert_eq!(origin, "http://localhost:3000");
        assert!(frontend_origin_from(Some("localhost:3000".into())).is_err());
    }
}
