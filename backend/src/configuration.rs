//! Everything the backend reads from its environment, read once at startup.
//! The OpenTelemetry SDK and exporter read the standard `OTEL_*` variables themselves; this
//! module only reads the ones the application itself must decide on.

use std::env;

use axum::http::HeaderValue;

pub const DEFAULT_PORT: u16 = 4567;
pub const DEFAULT_FRONTEND_URL: &str = "http://localhost:3000";
pub const DEFAULT_SERVICE_NAME: &str = "cruddur-backend";

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `PORT`; 0 asks the system for a free one.
    pub port: u16,
    /// `FRONTEND_URL`: the only origin browsers may call the API from.
    pub frontend_origin: HeaderValue,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `OTEL_SDK_DISABLED=true`: no spans are made into OpenTelemetry spans nor exported.
    pub sdk_disabled: bool,
    /// Where OTLP/HTTP trace requests go, resolved as the OTLP exporter specification says:
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    /// None: no endpoint was set, so nothing is exported.
    pub traces_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub protocol: OtlpProtocol,
}

/// The OTLP encodings this backend speaks; the specification's default is protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    HttpJson,
    /// A value this backend does not speak (such as `grpc`): it exports http/protobuf and says so.
    Unsupported,
}

impl OtlpProtocol {
    fn from_value(value: Option<String>) -> Self {
        match value
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("http/json") => OtlpProtocol::HttpJson,
            Some(_) => OtlpProtocol::Unsupported,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigurationError> {
        Ok(Settings {
            port: port_from(env_var("PORT"))?,
            frontend_origin: frontend_origin_from(env_var("FRONTEND_URL"))?,
            telemetry: TelemetrySettings::from_env(),
        })
    }
}

impl TelemetrySettings {
    pub fn from_env() -> Self {
        TelemetrySettings {
            sdk_disabled: env_var("OTEL_SDK_DISABLED")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true")),
            traces_endpoint: traces_endpoint_from(
                env_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
                env_var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            ),
            protocol: OtlpProtocol::from_value(
                env_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                    .or_else(|| env_var("OTEL_EXPORTER_OTLP_PROTOCOL")),
            ),
        }
    }
}

/// A variable that is set to something other than blanks.
fn env_var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
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

fn traces_endpoint_from(traces_endpoint: Option<String>, base: Option<String>) -> Option<String> {
    traces_endpoint
        .map(|endpoint| endpoint.trim().to_owned())
        .or_else(|| base.map(|base| format!("{}/v1/traces", base.trim().trim_end_matches('/'))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_endpoint_gets_the_traces_path_appended_once() {
        let resolved = |base: &str| traces_endpoint_from(None, Some(base.to_owned()));
        assert_eq!(
            resolved("https://api.honeycomb.io").as_deref(),
            Some("https://api.honeycomb.io/v1/traces")
        );
        assert_eq!(
            resolved("http://collector:4318/").as_deref(),
            Some("http://collector:4318/v1/traces")
        );
    }

    #[test]
    fn the_traces_endpoint_is_used_as_is_and_wins() {
        let resolved = traces_endpoint_from(
            Some("http://x:1/custom".to_owned()),
            Some("http://y:2".to_owned()),
        );
        assert_eq!(resolved.as_deref(), Some("http://x:1/custom"));
        assert_eq!(traces_endpoint_from(None, None), None);
    }

    #[test]
    fn protobuf_is_the_default_protocol_and_grpc_is_not_spoken() {
        assert_eq!(OtlpProtocol::from_value(None), OtlpProtocol::HttpProtobuf);
        assert_eq!(
            OtlpProtocol::from_value(Some("HTTP/JSON".into())),
            OtlpProtocol::HttpJson
        );
        assert_eq!(
            OtlpProtocol::from_value(Some("grpc".into())),
            OtlpProtocol::Unsupported
        );
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
