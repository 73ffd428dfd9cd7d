//! The OTLP exporter's settings: the specification's `OTEL_EXPORTER_OTLP_*` variables, read
//! the way it says, and Honeycomb's key. opentelemetry-otlp reads these variables too, but
//! keeps what it makes of them private, and the relay sends the browser's spans to the same
//! place, the same way: so they are resolved once here.

use std::time::Duration;

use crate::environment::{ConfigurationError, Env, first_choice, first_positive};

/// The traces endpoint and its headers: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/traces` over HTTP), else Honeycomb's when only
/// `HONEYCOMB_API_KEY` is set; `OTEL_EXPORTER_OTLP_TRACES_HEADERS` or
/// `OTEL_EXPORTER_OTLP_HEADERS`, plus Honeycomb's key header when the endpoint is Honeycomb's.
pub fn traces_endpoint_and_headers(
    env: &Env,
    protocol: OtlpProtocol,
) -> (Option<String>, OtlpHeaders) {
    let honeycomb_api_key = env.var("HONEYCOMB_API_KEY");
    let traces_endpoint = traces_endpoint_from(
        env.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env.var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        protocol,
    )
    .or_else(|| {
        honeycomb_api_key
            .as_ref()
            .map(|_| honeycomb_traces_endpoint(protocol).to_owned())
    });
    let headers = otlp_headers_from(
        env.var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| env.var("OTEL_EXPORTER_OTLP_HEADERS")),
        honeycomb_api_key.filter(|_| {
            traces_endpoint
                .as_deref()
                .is_some_and(is_honeycomb_endpoint)
        }),
    );
    (traces_endpoint, headers)
}

/// The OTLP exporter specification's default.
const DEFAULT_EXPORT_TIMEOUT_MILLISECONDS: usize = 10_000;

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds.
pub fn export_timeout(env: &Env) -> Result<Duration, ConfigurationError> {
    Ok(Duration::from_millis(first_positive(
        env,
        [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
        DEFAULT_EXPORT_TIMEOUT_MILLISECONDS,
    )? as u64))
}

/// Headers for the OTLP endpoint, such as Honeycomb's key: their values are secrets, so
/// `Debug` shows only their names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpHeaders(Vec<(String, String)>);

impl OtlpHeaders {
    /// The specification's format: `name=value,name2=value2`, values percent-encoded. Parsed
    /// here because opentelemetry-otlp keeps its parser private.
    pub fn parse(text: &str) -> Self {
        OtlpHeaders(
            text.split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| {
                    let value = percent_encoding::percent_decode_str(value.trim())
                        .decode_utf8_lossy()
                        .into_owned();
                    (name.trim().to_owned(), value)
                })
                .filter(|(name, _)| !name.is_empty())
                .collect(),
        )
    }

    pub fn names(&self) -> String {
        self.0
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "OtlpHeaders([{}])", self.names())
    }
}

/// How the OTLP exporter and the relay speak to the endpoint; the specification's default is
/// HTTP with protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl OtlpProtocol {
    const EXPECTED: &'static str = "http/protobuf, http/json or grpc";

    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`; HTTP with
    /// protobuf when neither is set.
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        first_choice(
            env,
            [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
            [
                OtlpProtocol::HttpProtobuf,
                OtlpProtocol::HttpJson,
                OtlpProtocol::Grpc,
            ],
            OtlpProtocol::as_str,
            OtlpProtocol::EXPECTED,
            OtlpProtocol::HttpProtobuf,
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
            OtlpProtocol::Grpc => "grpc",
        }
    }
}

/// How export bodies are compressed; none unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    None,
    Gzip,
    Zstd,
}

impl OtlpCompression {
    const EXPECTED: &'static str = "gzip, zstd or none";

    /// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` or `OTEL_EXPORTER_OTLP_COMPRESSION`; none when
    /// neither is set.
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        first_choice(
            env,
            [
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ],
            [
                OtlpCompression::None,
                OtlpCompression::Gzip,
                OtlpCompression::Zstd,
            ],
            OtlpCompression::as_str,
            OtlpCompression::EXPECTED,
            OtlpCompression::None,
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpCompression::None => "none",
            OtlpCompression::Gzip => "gzip",
            OtlpCompression::Zstd => "zstd",
        }
    }
}

/// Where spans go when only `HONEYCOMB_API_KEY` is set, as in the seeds' compose file.
fn honeycomb_traces_endpoint(protocol: OtlpProtocol) -> &'static str {
    match protocol {
        OtlpProtocol::Grpc => "https://api.honeycomb.io:443",
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => "https://api.honeycomb.io/v1/traces",
    }
}

/// Whether `url` is one of Honeycomb's own (honeycomb.io or a subdomain, such as
/// `api.eu1.honeycomb.io`): the only hosts `HONEYCOMB_API_KEY` is sent to, and the only APIs
/// asked what a key's team is.
pub fn is_honeycomb_endpoint(url: &str) -> bool {
    reqwest::Url::parse(url.trim())
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|host| {
            let host = host.trim_end_matches('.');
            host == "honeycomb.io" || host.ends_with(".honeycomb.io")
        })
}

/// The OTLP headers as set, plus Honeycomb's key header from `HONEYCOMB_API_KEY` unless they
/// name it already; an unset key never becomes an empty header.
fn otlp_headers_from(headers: Option<String>, honeycomb_api_key: Option<String>) -> OtlpHeaders {
    let mut headers = headers
        .map(|headers| OtlpHeaders::parse(&headers))
        .unwrap_or_default();
    if let Some(key) = honeycomb_api_key
        && !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(HONEYCOMB_KEY_HEADER))
    {
        headers
            .0
            .push((HONEYCOMB_KEY_HEADER.into(), key.trim().into()));
    }
    headers
}

/// The header Honeycomb reads its key from.
pub const HONEYCOMB_KEY_HEADER: &str = "x-honeycomb-team";

/// The signal's endpoint as is; else the base one, with the traces path over HTTP (gRPC's
/// path is the service's, which the client adds).
fn traces_endpoint_from(
    traces_endpoint: Option<String>,
    base: Option<String>,
    protocol: OtlpProtocol,
) -> Option<String> {
    traces_endpoint
        .map(|endpoint| endpoint.trim().to_owned())
        .or_else(|| {
            base.map(|base| match protocol {
                OtlpProtocol::Grpc => base.trim().to_owned(),
                OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
                    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
                }
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honeycomb_api_key_alone_makes_the_key_header_and_the_otlp_headers_win() {
        let only_key = otlp_headers_from(None, Some("k3y".into()));
        assert_eq!(
            only_key.iter().collect::<Vec<_>>(),
            [("x-honeycomb-team", "k3y")]
        );
        let both = otlp_headers_from(Some("x-honeycomb-team=other".into()), Some("k3y".into()));
        assert_eq!(
            both.iter().collect::<Vec<_>>(),
            [("x-honeycomb-team", "other")]
        );
        assert_eq!(otlp_headers_from(None, None), OtlpHeaders::default());
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_appended_once_over_http_only() {
        let resolved =
            |base: &str, protocol| traces_endpoint_from(None, Some(base.to_owned()), protocol);
        assert_eq!(
            resolved("https://api.honeycomb.io", OtlpProtocol::HttpProtobuf).as_deref(),
            Some("https://api.honeycomb.io/v1/traces")
        );
        assert_eq!(
            resolved("http://collector:4318/", OtlpProtocol::HttpJson).as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            resolved("http://collector:4317", OtlpProtocol::Grpc).as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn the_traces_endpoint_is_used_as_is_and_wins() {
        let resolved = traces_endpoint_from(
            Some("http://x:1/custom".to_owned()),
            Some("http://y:2".to_owned()),
            OtlpProtocol::HttpProtobuf,
        );
        assert_eq!(resolved.as_deref(), Some("http://x:1/custom"));
        assert_eq!(traces_endpoint_from(None, None, OtlpProtocol::Grpc), None);
    }

    #[test]
    fn header_values_are_decoded_and_never_shown() {
        let headers = OtlpHeaders::parse("x-honeycomb-team=s3cr3t%3D, x-dataset = cruddur ,junk");
        let pairs: Vec<_> = headers.iter().collect();
        assert_eq!(
            pairs,
            [("x-honeycomb-team", "s3cr3t="), ("x-dataset", "cruddur")]
        );
        let shown = format!("{headers:?}");
        assert_eq!(shown, "OtlpHeaders([x-honeycomb-team,x-dataset])");
    }
}
