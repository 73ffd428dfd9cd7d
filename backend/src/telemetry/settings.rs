//! Telemetry's settings: whether the SDK runs, the value length limit of the backend's spans,
//! and the OTLP exporter's and X-Ray's own (`otlp/settings.rs`, `xray/settings.rs`).

use std::time::Duration;

use super::otlp;
use super::otlp::settings::{OtlpCompression, OtlpHeaders, OtlpProtocol};
use super::xray::settings::{XraySettings, xray_endpoint_region};
use crate::environment::{ConfigurationError, Env, first_positive};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `OTEL_SDK_DISABLED` (false); true, no spans are made into OpenTelemetry spans nor exported.
    pub sdk_disabled: bool,
    /// Where trace exports go, resolved as the OTLP exporter specification says:
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` (plus
    /// `/v1/traces` over HTTP). None: no endpoint was set, so nothing is exported.
    pub traces_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`; anything else
    /// than the three spoken fails startup.
    pub protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` or `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip`,
    /// `zstd` or `none` (the default); anything else fails startup.
    pub compression: OtlpCompression,
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` or `OTEL_EXPORTER_OTLP_HEADERS`, plus Honeycomb's key
    /// header from `HONEYCOMB_API_KEY` when the endpoint is Honeycomb's.
    pub headers: OtlpHeaders,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds
    /// (10,000): the longest one export may take, its retries included.
    pub export_timeout: Duration,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// 4096: the most bytes a string attribute value of the backend's spans keeps.
    pub attribute_value_length_limit: usize,
    /// The region to sign for when the traces endpoint is X-Ray's own
    /// (`https://xray.<region>.amazonaws.com/...`): AWS's OpenTelemetry distributions sign
    /// requests there with SigV4, and so does this backend.
    pub traces_endpoint_xray_region: Option<String>,
    pub xray: XraySettings,
}

const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 4096;

impl TelemetrySettings {
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let protocol = OtlpProtocol::read(env)?;
        let (traces_endpoint, headers) = otlp::settings::traces_endpoint_and_headers(env, protocol);
        let traces_endpoint_xray_region = traces_endpoint.as_deref().and_then(xray_endpoint_region);
        Ok(TelemetrySettings {
            sdk_disabled: env.standard_boolean("OTEL_SDK_DISABLED", false)?,
            traces_endpoint,
            protocol,
            compression: OtlpCompression::read(env)?,
            headers,
            export_timeout: otlp::settings::export_timeout(env)?,
            // The default is this backend's, where the specification has none: a client sends
            // the query, the path and the user agent, and they are copied into attributes.
            attribute_value_length_limit: first_positive(
                env,
                [
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                ],
                DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            )?,
            traces_endpoint_xray_region,
            xray: XraySettings::read(env)?,
        })
    }
}
