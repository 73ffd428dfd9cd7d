//! The backend's spans over OTLP, through opentelemetry-otlp: to the OTLP traces endpoint
//! (Honeycomb, a collector) and, in X-Ray's `otlp` mode, to X-Ray. HTTP with protobuf or JSON
//! on the blocking reqwest client (the SDK's batch processor runs on a thread of its own), or
//! gRPC over tonic; gzip or zstd; the specification's retry policy (429, 502, 503, 504 and
//! failed connections, `Retry-After` honoured) within the export's timeout. Never on a request.
//!
//! The crate logs a failed export through the SDK's own diagnostics, once per batch; the
//! wrapper here counts the spans instead and says so at most once per interval.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_otlp::{
    Compression, Protocol, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::ClientTlsConfig;

pub mod settings;

use super::aws_signing::AuthorizingHttpClient;
use super::destinations::Destination;
use super::outbound::blocking_client;
use crate::losses::LossCounter;
use crate::redact;
use settings::{OtlpCompression, OtlpHeaders, OtlpProtocol};

/// The specification asks exporters to say who they are; a configured header wins.
pub const USER_AGENT: &str = concat!("cruddur-backend/", env!("CARGO_PKG_VERSION"));

/// How one exporter delivers to its destination.
pub struct Delivery {
    /// The longest one export may take, retries included.
    pub timeout: Duration,
    /// The specification's retries, or one attempt.
    pub retries: bool,
    /// What the log calls the spans this exporter sends.
    pub spans_for: &'static str,
    /// What a 403 from this endpoint most likely means.
    pub refusal_hint: Option<&'static str>,
}

/// opentelemetry-otlp's exporter, counting what it gives up on.
#[derive(Debug)]
pub struct CountedExporter {
    inner: opentelemetry_otlp::SpanExporter,
    /// The endpoint as logs may show it.
    shown: String,
    spans_for: &'static str,
    refusal_hint: Option<&'static str>,
    /// Spans the endpoint refused or never got.
    not_delivered: LossCounter,
}

impl CountedExporter {
    /// Fails when the endpoint is no URL, a header is not one, or no client can be built.
    /// Call inside the runtime: the gRPC channel's worker runs on it.
    pub fn new(destination: &Destination, delivery: Delivery) -> Result<Self, String> {
        let endpoint = destination.endpoint.trim();
        reqwest::Url::parse(endpoint).map_err(|_| "the endpoint is no URL".to_owned())?;
        let retry_policy = if delivery.retries {
            RetryPolicy::recommended()
        } else {
            RetryPolicy::default()
        };
        let compression = match destination.compression {
            OtlpCompression::None => None,
            OtlpCompression::Gzip => Some(Compression::Gzip),
            OtlpCompression::Zstd => Some(Compression::Zstd),
        };
        let builder = opentelemetry_otlp::SpanExporter::builder();
        let inner = match destination.protocol {
            OtlpProtocol::Grpc => {
                if destination.auth.is_some() {
                    return Err("X-Ray's endpoint speaks OTLP over HTTP only, not gRPC".into());
                }
                let mut exporter = builder
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .with_timeout(delivery.timeout)
                    .with_metadata(metadata(&destination.headers)?)
                    .with_retry_policy(retry_policy);
                if let Some(compression) = compression {
                    exporter = exporter.with_compression(compression);
                }
                if endpoint.starts_with("https:") {
                    // The system's roots, as the HTTP client trusts.
                    exporter =
                        exporter.with_tls_config(ClientTlsConfig::new().with_enabled_roots());
                }
                exporter.build()
            }
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
                // The crate's own default is keyed `User-Agent`, and its map keys by spelling:
                // ours goes under the same spelling, or which of the two is sent would depend on
                // the map's order. A configured user agent wins over ours.
                let mut user_agent = USER_AGENT.to_owned();
                let mut headers: HashMap<String, String> = HashMap::new();
                for (name, value) in destination.headers.iter() {
                    if name.eq_ignore_ascii_case("user-agent") {
                        value.clone_into(&mut user_agent);
                    } else {
                        headers.insert(name.to_owned(), value.to_owned());
                    }
                }
                headers.insert("User-Agent".to_owned(), user_agent);
                let exporter = builder
                    .with_http()
                    .with_endpoint(endpoint)
                    .with_protocol(if destination.protocol == OtlpProtocol::HttpJson {
                        Protocol::HttpJson
                    } else {
                        Protocol::HttpBinary
                    })
                    .with_timeout(delivery.timeout)
                    .with_headers(headers)
                    .with_retry_policy(retry_policy);
                let exporter = match compression {
                    Some(compression) => exporter.with_compression(compression),
                    None => exporter,
                };
                match destination.auth.clone() {
                    Some(auth) => exporter
                        .with_http_client(AuthorizingHttpClient::new(auth, delivery.timeout)?),
                    None => exporter.with_http_client(blocking_client(delivery.timeout)?),
                }
                .build()
            }
        }
        .map_err(|error| error.to_string())?;
        Ok(CountedExporter {
            inner,
            shown: redact::url_text(endpoint),
            spans_for: delivery.spans_for,
            refusal_hint: delivery.refusal_hint,
            not_delivered: LossCounter::default(),
        })
    }

    /// Sends `spans`; a batch that can't be delivered is counted and logged at most once per
    /// interval, and counts as handled: the batch processor would log every failed batch again.
    pub async fn send(&self, spans: Vec<SpanData>) {
        let count = spans.len() as u64;
        if count == 0 {
            return;
        }
        if let Err(error) = self.inner.export(spans).await {
            let why = error.to_string();
            let hint = self
                .refusal_hint
                .filter(|_| why.contains("403") || why.contains("PermissionDenied"));
            let why = match hint {
                Some(hint) => format!("{why}: {hint}"),
                None => why,
            };
            if let Some(report) = self.not_delivered.add(count) {
                tracing::warn!(
                    spans = report.since_last_report,
                    total = report.total,
                    endpoint = %self.shown,
                    "{} not delivered: {why}",
                    self.spans_for
                );
            }
        }
    }
}

impl SpanExporter for CountedExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.send(batch).await;
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The headers as gRPC metadata. The values are secrets (Honeycomb's key): an error names the
/// header only.
pub fn metadata(headers: &OtlpHeaders) -> Result<MetadataMap, String> {
    let mut metadata = MetadataMap::new();
    for (name, value) in headers.iter() {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("the header name {name:?} is not valid in gRPC metadata"))?;
        let value = MetadataValue::try_from(value)
            .map_err(|_| format!("the value of the header {name} is not valid in gRPC"))?;
        metadata.insert(key, value);
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_metadata_and_a_bad_value_is_named_but_not_shown() {
        let metadata = metadata(&OtlpHeaders::parse(
            "X-Honeycomb-Team=k3y,x-dataset=cruddur",
        ))
        .unwrap();
        assert_eq!(metadata.get("x-honeycomb-team").unwrap(), "k3y");
        assert_eq!(metadata.get("x-dataset").unwrap(), "cruddur");
        let error = super::metadata(&OtlpHeaders::parse("x-key=s3cr3t%0A")).unwrap_err();
        assert!(
            error.contains("x-key") && !error.contains("s3cr3t"),
            "{error}"
        );
    }
}
