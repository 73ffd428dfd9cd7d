//! X-Ray without the daemon: the spans of the traces X-Ray sampling keeps, as OTLP/HTTP
//! protobuf, to X-Ray's traces endpoint (`https://xray.<region>.amazonaws.com/v1/traces`,
//! which needs CloudWatch Transaction Search), signed with SigV4 or carrying an API key.
//!
//! The same exporter as the OTLP traces endpoint's (opentelemetry-otlp), through a client that
//! sends none of the `OTEL_EXPORTER_OTLP_HEADERS` (Honeycomb's key among them), and without
//! retries. A refusal (a 403 for a missing permission, or Transaction Search not turned on)
//! costs the batch, counted and logged at most once per interval. Exports are gzip-compressed:
//! `docs/telemetry.md` gives the measurements that decided it.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::TraceDecisions;
use super::settings::XrayDestination;
use crate::redact;
use crate::telemetry::aws_signing::{SigV4, XrayAuth};
use crate::telemetry::otlp::settings::{OtlpCompression, OtlpHeaders, OtlpProtocol};
use crate::telemetry::otlp::{CountedExporter, OtlpDestination};
use crate::telemetry::settings::TelemetrySettings;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// X-Ray's exports, the backend's and the relay's: far fewer bytes on the wire, which the
/// signature then hashes, for a little CPU on the exporter's own thread (`docs/telemetry.md`).
pub const XRAY_COMPRESSION: OtlpCompression = OtlpCompression::Gzip;

/// Where X-Ray's share of the spans goes, and how to authenticate there: shared by the
/// backend's exporter and the relay.
#[derive(Debug, Clone)]
pub struct XrayOtlpRoute {
    pub endpoint: String,
    pub auth: XrayAuth,
}

/// X-Ray's sampling API, which only SigV4 opens.
#[derive(Debug, Clone)]
pub struct SamplingApi {
    pub endpoint: String,
    pub signer: Arc<SigV4>,
}

/// Every way spans reach AWS and how each authenticates, planned once from the settings so one
/// credential chain per region serves them all. Empty, touching no credentials, unless X-Ray
/// is in `otlp` mode or the OTLP traces endpoint is X-Ray's own.
#[derive(Debug, Clone, Default)]
pub struct XrayRoutes {
    /// How the OTLP traces endpoint authenticates, when it is X-Ray's own: SigV4, as AWS's
    /// OpenTelemetry distributions do. Its exporter and the relay's forwarding both use it.
    pub traces_endpoint_auth: Option<XrayAuth>,
    /// Where the spans of sampled traces go in `otlp` mode. None in daemon mode, and when the
    /// traces endpoint is the same address: every span goes there once, X-Ray's included.
    pub xray_share: Option<XrayOtlpRoute>,
    /// Where the centralized sampling rules come from in `otlp` mode; None with only an API
    /// key, which can't read them: the local rules decide.
    pub sampling_api: Option<SamplingApi>,
    /// One per region, each with its credential chain.
    signers: Vec<Arc<SigV4>>,
}

impl XrayRoutes {
    /// Builds no credential chain yet: `start` does, with logging installed.
    pub fn plan(settings: &TelemetrySettings) -> Self {
        let mut signers: Vec<Arc<SigV4>> = Vec::new();
        let mut signer_for = |region: &str| {
            if let Some(signer) = signers.iter().find(|signer| signer.region() == region) {
                return signer.clone();
            }
            let signer = SigV4::new(region.to_owned());
            signers.push(signer.clone());
            signer
        };
        let xray = match &settings.xray.destination {
            XrayDestination::Otlp(otlp) if settings.xray.enabled => Some(otlp),
            _ => None,
        };
        let xray_auth = xray.map(|otlp| match &otlp.api_key {
            Some(key) => XrayAuth::Bearer(key.clone()),
            None => XrayAuth::SigV4(signer_for(&otlp.region)),
        });
        let same_endpoint = xray.is_some_and(|otlp| {
            settings
                .traces_endpoint
                .as_deref()
                .is_some_and(|endpoint| same_address(endpoint, &otlp.endpoint))
        });
        let traces_endpoint_auth = if same_endpoint {
            xray_auth.clone()
        } else {
            settings
                .traces_endpoint_xray_region
                .as_deref()
                .filter(|_| settings.traces_endpoint.is_some())
                .map(|region| XrayAuth::SigV4(signer_for(region)))
        };
        XrayRoutes {
            traces_endpoint_auth,
            xray_share: xray.zip(xray_auth.clone()).and_then(|(otlp, auth)| {
                (!same_endpoint).then(|| XrayOtlpRoute {
                    endpoint: otlp.endpoint.clone(),
                    auth,
                })
            }),
            sampling_api: xray.zip(xray_auth.as_ref().and_then(XrayAuth::sigv4)).map(
                |(otlp, signer)| SamplingApi {
                    endpoint: otlp.api_endpoint.clone(),
                    signer: signer.clone(),
                },
            ),
            signers,
        }
    }

    /// Starts the credential chains, and says once where X-Ray's spans go and how they
    /// authenticate (never a key or a credential). Call inside the runtime, with logging
    /// installed.
    pub fn start(&self, settings: &TelemetrySettings) {
        for signer in &self.signers {
            signer.start_refreshing();
        }
        if let Some(XrayAuth::SigV4(signer)) = &self.traces_endpoint_auth {
            tracing::info!(
                region = signer.region(),
                "the OTLP traces endpoint is X-Ray's: its requests are signed with SigV4"
            );
        }
        let XrayDestination::Otlp(otlp) = &settings.xray.destination else {
            return;
        };
        match &self.xray_share {
            Some(route) => tracing::info!(
                endpoint = %redact::url_text(&route.endpoint),
                auth = auth_name(&route.auth),
                "X-Ray without a daemon: the spans of sampled traces go over OTLP to X-Ray"
            ),
            None => tracing::info!(
                endpoint = %redact::url_text(&otlp.endpoint),
                "X-Ray's OTLP endpoint is the OTLP traces endpoint too: every span goes there once"
            ),
        }
        match &self.sampling_api {
            Some(api) => tracing::info!(
                endpoint = %redact::url_text(&api.endpoint),
                "X-Ray's centralized sampling rules come from its API, signed with SigV4; the \
                 local rules decide until they arrive"
            ),
            None => tracing::info!(
                "X-Ray sampling follows the local rules only: an API key can send spans but \
                 can't read the centralized rules (GetSamplingRules needs SigV4)"
            ),
        }
    }
}

fn auth_name(auth: &XrayAuth) -> &'static str {
    match auth {
        XrayAuth::SigV4(_) => "SigV4",
        XrayAuth::Bearer(_) => "API key",
    }
}

/// The same address, whatever the case of the host or a trailing slash.
fn same_address(left: &str, right: &str) -> bool {
    match (
        reqwest::Url::parse(left.trim()),
        reqwest::Url::parse(right.trim()),
    ) {
        (Ok(left), Ok(right)) => {
            left.scheme() == right.scheme()
                && left.host_str() == right.host_str()
                && left.port_or_known_default() == right.port_or_known_default()
                && left.path().trim_end_matches('/') == right.path().trim_end_matches('/')
        }
        _ => left.trim() == right.trim(),
    }
}

pub struct XrayOtlpExporter {
    decisions: Arc<TraceDecisions>,
    otlp: CountedExporter,
}

impl std::fmt::Debug for XrayOtlpExporter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("XrayOtlpExporter")
            .field("otlp", &self.otlp)
            .finish_non_exhaustive()
    }
}

impl XrayOtlpExporter {
    pub(super) fn new(
        decisions: Arc<TraceDecisions>,
        route: &XrayOtlpRoute,
    ) -> Result<Self, String> {
        let otlp = CountedExporter::new(OtlpDestination {
            endpoint: &route.endpoint,
            protocol: OtlpProtocol::HttpProtobuf,
            compression: XRAY_COMPRESSION,
            // Never the OTLP headers: Honeycomb's key is among them.
            headers: &OtlpHeaders::default(),
            auth: Some(route.auth.clone()),
            timeout: EXPORT_TIMEOUT,
            retries: false,
            spans_for: "spans for X-Ray",
            refusal_hint: Some(
                "the role lacks permission to write traces, the signature or key was refused, \
                 or Transaction Search is off (aws/setup.sh turns it on)",
            ),
        })?;
        Ok(XrayOtlpExporter { decisions, otlp })
    }
}

impl SpanExporter for XrayOtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Spans without a decision were made outside any request: X-Ray has no trace for them.
        let sampled: Vec<SpanData> = batch
            .into_iter()
            .filter(|span| self.decisions.get(span.span_context.trace_id()) == Some(true))
            .collect();
        self.otlp.send(sampled).await;
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.otlp.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Settings;

    fn routes(variables: &[(&str, &str)]) -> XrayRoutes {
        let settings = Settings::from_lookup(|name| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .unwrap();
        XrayRoutes::plan(&settings.telemetry)
    }

    #[tokio::test]
    async fn the_daemon_mode_plans_no_route_to_aws() {
        let planned = routes(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")]);
        assert!(planned.traces_endpoint_auth.is_none());
        assert!(planned.xray_share.is_none());
        assert!(planned.sampling_api.is_none());
    }

    // With an API key: SigV4 would start the credential chain, which unit tests leave alone
    // (the API tests run it, with instance metadata off).
    #[tokio::test]
    async fn the_same_endpoint_twice_is_sent_to_once_by_the_traces_exporter() {
        let planned = routes(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_REGION", "us-west-2"),
            ("CRUDDUR_XRAY_API_KEY", "k3y"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://XRAY.us-west-2.amazonaws.com/v1/traces/",
            ),
        ]);
        assert!(planned.xray_share.is_none(), "not a second time");
        assert!(matches!(
            planned.traces_endpoint_auth,
            Some(XrayAuth::Bearer(_))
        ));
    }

    #[tokio::test]
    async fn an_api_key_sends_spans_and_leaves_sampling_to_the_local_rules() {
        let planned = routes(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_REGION", "us-west-2"),
            ("CRUDDUR_XRAY_API_KEY", "k3y"),
        ]);
        let route = planned.xray_share.expect("spans go to X-Ray");
        assert_eq!(
            route.endpoint,
            "https://xray.us-west-2.amazonaws.com/v1/traces"
        );
        assert!(matches!(route.auth, XrayAuth::Bearer(_)));
        assert!(planned.sampling_api.is_none());
    }
}
