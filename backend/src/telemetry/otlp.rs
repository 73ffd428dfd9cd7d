//! The backend's spans over OTLP/HTTP: to the OTLP traces endpoint (Honeycomb, a collector) and,
//! in X-Ray's `otlp` mode, to X-Ray. Runs on a batch processor's own thread, never on a request.
//!
//! Our own rather than opentelemetry-otlp's exporter: that one converts every span into a
//! second, owned copy before encoding it (the largest part of what exporting costs a request),
//! and it sends only the headers of `OTEL_EXPORTER_OTLP_HEADERS`, not the settings' (the key
//! `HONEYCOMB_API_KEY` names). Retries follow its policy, which follows the specification's:
//! 429, 502, 503, 504 and failed connections, at most three retries with doubling delays,
//! `Retry-After` honoured, all within `OTEL_EXPORTER_OTLP_TIMEOUT`.

pub mod encode;
mod retry;

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use opentelemetry_http::{Bytes, HttpClient, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prost::Message;

use super::aws_signing::{AuthorizingHttpClient, XrayAuth};
use super::losses::LossCounter;
use super::outbound::blocking_client;
use crate::configuration::{OtlpHeaders, OtlpProtocol};
use crate::redact;
use encode::EncodedResource;
pub use retry::Retries;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// Where one exporter sends, and how.
pub struct OtlpDestination<'a> {
    pub endpoint: &'a str,
    pub protocol: OtlpProtocol,
    pub headers: &'a OtlpHeaders,
    /// SigV4 or X-Ray's API key, when the endpoint is X-Ray's.
    pub auth: Option<XrayAuth>,
    /// The longest one export may take, retries included.
    pub timeout: Duration,
    pub retries: Retries,
    /// What the log calls the spans this exporter sends.
    pub spans_for: &'static str,
    /// What a 403 from this endpoint most likely means.
    pub refusal_hint: Option<&'static str>,
}

pub struct OtlpHttpExporter {
    uri: Uri,
    /// The endpoint as logs may show it.
    shown: String,
    json: bool,
    headers: HeaderMap,
    client: Box<dyn HttpClient>,
    timeout: Duration,
    retries: Retries,
    spans_for: &'static str,
    refusal_hint: Option<&'static str>,
    resource: EncodedResource,
    /// Kept for http/json only, which goes through opentelemetry-proto's serde mapping.
    json_resource: ResourceAttributesWithSchema,
    /// Spans the endpoint refused or never got.
    not_delivered: LossCounter,
}

impl std::fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OtlpHttpExporter")
            .field("endpoint", &self.shown)
            .finish_non_exhaustive()
    }
}

impl OtlpHttpExporter {
    /// Fails when the endpoint is no URL, a header is not one, or no HTTP client can be built.
    pub fn new(destination: OtlpDestination<'_>) -> Result<Self, String> {
        let uri: Uri = destination
            .endpoint
            .trim()
            .parse()
            .map_err(|_| "the endpoint is no URL".to_owned())?;
        // The specification asks exporters to say who they are; a configured header wins.
        let mut headers = HeaderMap::from_iter([(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("cruddur-backend/", env!("CARGO_PKG_VERSION"))),
        )]);
        for (name, value) in destination.headers.iter() {
            let name = HeaderName::try_from(name)
                .map_err(|_| format!("the header name {name:?} is not valid in HTTP"))?;
            // The value is a secret (Honeycomb's key): the error names the header only.
            let value = HeaderValue::try_from(value)
                .map_err(|_| format!("the value of the header {name} is not valid in HTTP"))?;
            headers.insert(name, value);
        }
        let client: Box<dyn HttpClient> = match destination.auth {
            Some(auth) => Box::new(AuthorizingHttpClient::new(auth, destination.timeout)?),
            None => Box::new(blocking_client(destination.timeout)?),
        };
        Ok(OtlpHttpExporter {
            shown: redact::url_text(destination.endpoint),
            uri,
            json: destination.protocol == OtlpProtocol::HttpJson,
            headers,
            client,
            timeout: destination.timeout,
            retries: destination.retries,
            spans_for: destination.spans_for,
            refusal_hint: destination.refusal_hint,
            resource: EncodedResource::default(),
            json_resource: ResourceAttributesWithSchema::default(),
            not_delivered: LossCounter::default(),
        })
    }

    /// Sends `spans` as one request, retried as the policy allows; a batch that can't be
    /// delivered is counted and logged at most once per interval, and counts as handled: the
    /// batch processor would log every failed batch again.
    pub async fn send(&self, spans: Vec<SpanData>) {
        let count = spans.len() as u64;
        if count == 0 {
            return;
        }
        let body = match self.body(spans) {
            Ok(body) => Bytes::from(body),
            Err(why) => return self.report(count, &why),
        };
        let outcome = self
            .retries
            .run(self.timeout, || self.attempt(body.clone()))
            .await;
        match outcome {
            Ok(response) => {
                if let Some((rejected, why)) = self.rejected(response.body()) {
                    self.report(rejected, &format!("the endpoint rejected some: {why}"));
                }
            }
            Err(failure) => self.report(count, &failure.why),
        }
    }

    fn body(&self, spans: Vec<SpanData>) -> Result<Vec<u8>, String> {
        if !self.json {
            return Ok(encode::export_request(&spans, &self.resource));
        }
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &self.json_resource),
        };
        serde_json::to_vec(&request).map_err(|error| error.to_string())
    }

    async fn attempt(&self, body: Bytes) -> Result<Response<Bytes>, retry::Failure> {
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.clone_from(&self.headers);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if self.json { JSON } else { PROTOBUF }),
        );
        let response = self.client.send_bytes(request).await.map_err(|error| {
            // reqwest's errors name the URL; the log names the endpoint once, cleaned.
            let why = match error.downcast::<reqwest::Error>() {
                Ok(error) => error.without_url().to_string(),
                Err(error) => error.to_string(),
            };
            retry::Failure::unanswered(why)
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let why = match self.refusal_hint.filter(|_| status.as_u16() == 403) {
            Some(hint) => format!("{status}: {hint}"),
            None => format!("the endpoint answered {status}"),
        };
        Err(retry::Failure::answered(&response, why))
    }

    /// OTLP's partial success: spans the endpoint took the request for but did not keep.
    fn rejected(&self, body: &[u8]) -> Option<(u64, String)> {
        if body.is_empty() {
            return None;
        }
        let response: ExportTraceServiceResponse = if self.json {
            serde_json::from_slice(body).ok()?
        } else {
            ExportTraceServiceResponse::decode(body).ok()?
        };
        let partial = response.partial_success?;
        let rejected = u64::try_from(partial.rejected_spans).ok()?;
        (rejected > 0).then_some((rejected, partial.error_message))
    }

    fn report(&self, spans: u64, why: &str) {
        if let Some(report) = self.not_delivered.add(spans) {
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

impl SpanExporter for OtlpHttpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.send(batch).await;
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
        if self.json {
            self.json_resource = resource.into();
        }
    }
}
