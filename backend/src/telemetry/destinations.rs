//! Where the backend's spans go, planned once: the OTLP traces endpoint (Honeycomb, a
//! collector, or X-Ray's own), X-Ray's share in `otlp` mode, and X-Ray's sampling API, each
//! with how it authenticates. The exporters, the relay and the sampling poller are handed what
//! is planned here, rather than each working it out from the settings again.

use std::sync::Arc;

use super::aws_signing::{SigV4, XrayAuth};
use super::otlp::settings::{OtlpCompression, OtlpHeaders, OtlpProtocol};
use super::settings::TelemetrySettings;
use super::xray::settings::XrayDestination;
use crate::redact;

/// X-Ray's exports, the backend's and the relay's: far fewer bytes on the wire, which the
/// signature then hashes, for a little CPU on the exporter's own thread (`docs/telemetry.md`).
pub const XRAY_COMPRESSION: OtlpCompression = OtlpCompression::Gzip;

/// Where one sender sends spans, and how: the backend's exporter, the relay's forwarder and
/// X-Ray's exporter all take one, planned here once.
#[derive(Debug, Clone)]
pub struct Destination {
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    pub compression: OtlpCompression,
    pub headers: OtlpHeaders,
    /// SigV4 or X-Ray's API key, when the endpoint is X-Ray's.
    pub auth: Option<XrayAuth>,
}

/// X-Ray's sampling API, which only SigV4 opens.
#[derive(Debug, Clone)]
pub struct SamplingApi {
    pub endpoint: String,
    pub signer: Arc<SigV4>,
}

/// Every place spans go and how each authenticates, planned once from the settings, so one
/// credential chain per region serves them all, and handed to whoever sends. Touches no
/// credentials unless X-Ray is in `otlp` mode or the OTLP traces endpoint is X-Ray's own.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    /// The OTLP traces endpoint, with SigV4 when it is X-Ray's own (as AWS's OpenTelemetry
    /// distributions do): the backend's exporter and the relay both send there. None when no
    /// endpoint is set, or the SDK is disabled.
    pub traces: Option<Destination>,
    /// Where the spans of sampled traces go in `otlp` mode: OTLP/HTTP protobuf, gzip, and never
    /// the OTLP headers (Honeycomb's key is among them). None in daemon mode, and when the
    /// traces endpoint is the same address: every span goes there once, X-Ray's included.
    pub xray_share: Option<Destination>,
    /// Where the centralized sampling rules come from in `otlp` mode; None with only an API
    /// key, which can't read them: the local rules decide.
    pub sampling_api: Option<SamplingApi>,
    /// One per region, each with its credential chain.
    signers: Vec<Arc<SigV4>>,
}

impl Destinations {
    /// Builds no credential chain yet: `start` does, with logging installed.
    pub fn plan(settings: &TelemetrySettings) -> Self {
        if settings.sdk_disabled {
            return Destinations::default();
        }
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
        Destinations {
            traces: settings
                .traces_endpoint
                .as_ref()
                .map(|endpoint| Destination {
                    endpoint: endpoint.clone(),
                    protocol: settings.protocol,
                    compression: settings.compression,
                    headers: settings.headers.clone(),
                    auth: traces_endpoint_auth,
                }),
            xray_share: xray.zip(xray_auth.clone()).and_then(|(otlp, auth)| {
                (!same_endpoint).then(|| Destination {
                    endpoint: otlp.endpoint.clone(),
                    protocol: OtlpProtocol::HttpProtobuf,
                    compression: XRAY_COMPRESSION,
                    headers: OtlpHeaders::default(),
                    auth: Some(auth),
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
        if let Some(XrayAuth::SigV4(signer)) =
            self.traces.as_ref().and_then(|traces| traces.auth.as_ref())
        {
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
                auth = route.auth.as_ref().map_or("none", auth_name),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Env;

    fn routes(variables: &[(&str, &str)]) -> Destinations {
        let lookup = |name: &str| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let settings = TelemetrySettings::read(&Env::new(&lookup)).unwrap();
        Destinations::plan(&settings)
    }

    #[tokio::test]
    async fn the_daemon_mode_plans_no_route_to_aws() {
        let planned = routes(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")]);
        assert!(planned.traces.and_then(|traces| traces.auth).is_none());
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
            planned.traces.and_then(|traces| traces.auth),
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
        assert!(matches!(route.auth, Some(XrayAuth::Bearer(_))));
        assert!(planned.sampling_api.is_none());
    }
}
