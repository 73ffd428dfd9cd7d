//! Authenticating to AWS X-Ray's endpoints: SigV4 signatures (service `xray`) from the standard
//! AWS credential chain, or an X-Ray API key as a bearer token.
//!
//! The credentials are fetched and refreshed by a task on the runtime, before they expire, and
//! signing only reads the latest ones: no request, exporter batch or relayed export ever waits
//! on the credential chain (IMDS, STS, the container endpoint). Nothing here logs a credential,
//! a key or a signature.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::Region;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use tokio::sync::watch;

use super::outbound::blocking_client;
use crate::redact::Secret;
use crate::sync;

/// The service name X-Ray's endpoints are signed for, traces and sampling alike.
pub const XRAY_SERVICE: &str = "xray";

/// How requests to X-Ray authenticate.
#[derive(Clone, Debug)]
pub enum XrayAuth {
    SigV4(Arc<SigV4>),
    /// `CRUDDUR_XRAY_API_KEY`: `Authorization: Bearer <key>`.
    Bearer(Secret),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no AWS credentials (yet) to sign with")]
    NoCredentials,
    #[error("the request cannot be signed: {0}")]
    Signing(String),
}

impl XrayAuth {
    /// Adds the authorization headers to a request about to be sent with exactly `body`.
    pub fn authorize(
        &self,
        method: &str,
        uri: &str,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), AuthError> {
        match self {
            XrayAuth::SigV4(signer) => signer.sign(method, uri, headers, body),
            XrayAuth::Bearer(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                    .map_err(|_| AuthError::Signing("the API key is no header value".into()))?;
                value.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, value);
                Ok(())
            }
        }
    }

    /// The signer, when this authenticates with SigV4 (the sampling APIs accept nothing else).
    pub fn sigv4(&self) -> Option<&Arc<SigV4>> {
        match self {
            XrayAuth::SigV4(signer) => Some(signer),
            XrayAuth::Bearer(_) => None,
        }
    }
}

/// SigV4 for one region, with the latest credentials the chain gave.
pub struct SigV4 {
    region: String,
    credentials: watch::Receiver<Option<Credentials>>,
    /// The sending half until `start_refreshing` hands it to the refreshing task.
    refresher: Mutex<Option<watch::Sender<Option<Credentials>>>>,
}

impl fmt::Debug for SigV4 {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigV4")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl SigV4 {
    /// A signer for `region` whose credentials come once `start_refreshing` runs.
    pub fn new(region: String) -> Arc<Self> {
        let (sender, receiver) = watch::channel(None);
        Arc::new(SigV4 {
            region,
            credentials: receiver,
            refresher: Mutex::new(Some(sender)),
        })
    }

    /// Builds the standard credential chain (environment, shared config and credentials files
    /// with profiles, web identity, ECS/EKS container credentials, EC2 instance metadata) and
    /// keeps its credentials fresh on the runtime; once, the later calls do nothing. Call
    /// inside the runtime, with logging installed: the first failure is said there.
    pub fn start_refreshing(&self) {
        let Some(sender) = sync::lock(&self.refresher).take() else {
            return;
        };
        let region = Region::new(self.region.clone());
        tokio::spawn(async move {
            let chain = DefaultCredentialsChain::builder()
                .region(region)
                .build()
                .await;
            keep_fresh(chain, sender).await;
        });
    }

    /// A signer with fixed credentials, for tests.
    #[cfg(test)]
    pub fn with_credentials(region: &str, credentials: Credentials) -> Self {
        let (_sender, receiver) = watch::channel(Some(credentials));
        SigV4 {
            region: region.to_owned(),
            credentials: receiver,
            refresher: Mutex::default(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn has_credentials(&self) -> bool {
        self.credentials.borrow().is_some()
    }

    /// Waits, a few seconds at most, for the first credentials: for the sampling poller's
    /// first call, which would otherwise fail before the chain had a chance to answer.
    pub async fn ready(&self) -> bool {
        let mut credentials = self.credentials.clone();
        tokio::time::timeout(
            FIRST_CREDENTIALS_WAIT,
            credentials.wait_for(Option::is_some),
        )
        .await
        .is_ok_and(|waited| waited.is_ok())
    }

    /// Adds the SigV4 headers (`Authorization`, `X-Amz-Date`, and `X-Amz-Security-Token` for
    /// temporary credentials) for a request about to be sent with exactly `body`.
    pub fn sign(
        &self,
        method: &str,
        uri: &str,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), AuthError> {
        let credentials = self
            .credentials
            .borrow()
            .clone()
            .ok_or(AuthError::NoCredentials)?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(XRAY_SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| AuthError::Signing(error.to_string()))?
            .into();
        let instructions = {
            let signed_headers = headers
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
            let signable =
                SignableRequest::new(method, uri, signed_headers, SignableBody::Bytes(body))
                    .map_err(|error| AuthError::Signing(error.to_string()))?;
            sign(signable, &params)
                .map_err(|error| AuthError::Signing(error.to_string()))?
                .into_parts()
                .0
        };
        let (new_headers, _) = instructions.into_parts();
        for new_header in new_headers {
            let name = HeaderName::from_bytes(new_header.name().as_bytes())
                .map_err(|error| AuthError::Signing(error.to_string()))?;
            let mut value = HeaderValue::from_str(new_header.value())
                .map_err(|error| AuthError::Signing(error.to_string()))?;
            // The signature opens the request for a few minutes: as secret as the token.
            value.set_sensitive(new_header.sensitive() || name == header::AUTHORIZATION);
            headers.insert(name, value);
        }
        Ok(())
    }
}

/// Fetches credentials now, then again before they expire, for as long as anyone signs.
/// The first failure is logged once, clearly; the app goes on serving and X-Ray gets nothing
/// until credentials appear.
async fn keep_fresh(chain: impl ProvideCredentials, sender: watch::Sender<Option<Credentials>>) {
    let mut failures: u32 = 0;
    loop {
        let wait = match chain.provide_credentials().await {
            Ok(credentials) => {
                if failures > 0 {
                    tracing::info!("AWS credentials found: X-Ray requests are signed again");
                }
                failures = 0;
                let wait = refresh_after(credentials.expiry(), SystemTime::now());
                sender.send_replace(Some(credentials));
                wait
            }
            Err(error) => {
                if failures == 0 {
                    tracing::error!(
                        error = %error,
                        "no AWS credentials for X-Ray (looked in the environment, the shared \
                         config and credentials files, web identity, the container and the \
                         instance metadata): spans for X-Ray are dropped, and counted, until \
                         credentials appear; the app keeps serving"
                    );
                }
                failures = failures.saturating_add(1);
                let expired = sender.borrow().as_ref().is_some_and(|credentials| {
                    credentials
                        .expiry()
                        .is_some_and(|expiry| expiry <= SystemTime::now())
                });
                if expired {
                    sender.send_replace(None);
                }
                retry_after(failures)
            }
        };
        if sender.is_closed() {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Refreshed five minutes before they expire (as the SDK's own cache does), at least ten
/// seconds apart; credentials that never expire are read again every hour, in case the
/// profile files change.
fn refresh_after(expiry: Option<SystemTime>, now: SystemTime) -> Duration {
    const EARLY: Duration = Duration::from_secs(300);
    const AT_LEAST: Duration = Duration::from_secs(10);
    const AT_MOST: Duration = Duration::from_secs(3600);
    match expiry {
        None => AT_MOST,
        Some(expiry) => expiry
            .duration_since(now)
            .unwrap_or_default()
            .saturating_sub(EARLY)
            .clamp(AT_LEAST, AT_MOST),
    }
}

/// Five seconds after the first failure, doubling up to five minutes.
fn retry_after(failures: u32) -> Duration {
    let doubled = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_secs(doubled.min(300))
}

/// The OTLP exporters' HTTP client with X-Ray's authentication: signs each request, the exact
/// bytes sent (compressed or not), on every attempt, then sends it with the blocking reqwest
/// client, on the batch processor's own thread.
#[derive(Debug)]
pub struct AuthorizingHttpClient {
    inner: reqwest::blocking::Client,
    auth: XrayAuth,
    /// The exporter's first batch may come before the chain's first answer: it waits for it,
    /// once, on the exporter's thread.
    waited_for_credentials: AtomicBool,
}

/// How long the first export, and the first sampling call, wait for the first credentials.
const FIRST_CREDENTIALS_WAIT: Duration = Duration::from_secs(5);

impl AuthorizingHttpClient {
    pub fn new(auth: XrayAuth, timeout: Duration) -> Result<Self, String> {
        Ok(AuthorizingHttpClient {
            inner: blocking_client(timeout)?,
            auth,
            waited_for_credentials: AtomicBool::new(false),
        })
    }

    fn wait_for_first_credentials(&self) {
        let Some(signer) = self.auth.sigv4() else {
            return;
        };
        if self.waited_for_credentials.swap(true, Ordering::Relaxed) {
            return;
        }
        let deadline = std::time::Instant::now() + FIRST_CREDENTIALS_WAIT;
        while !signer.has_credentials() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[async_trait]
impl HttpClient for AuthorizingHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.wait_for_first_credentials();
        let (mut parts, body) = request.into_parts();
        // opentelemetry-otlp merges OTEL_EXPORTER_OTLP_HEADERS (Honeycomb's key among them)
        // into every exporter's requests: only what describes the body goes to AWS.
        let mut headers = HeaderMap::new();
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::USER_AGENT,
        ] {
            if let Some(value) = parts.headers.remove(&name) {
                headers.insert(name, value);
            }
        }
        parts.headers = headers;
        self.auth.authorize(
            parts.method.as_str(),
            &parts.uri.to_string(),
            &mut parts.headers,
            &body,
        )?;
        self.inner
            .send_bytes(Request::from_parts(parts, body))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_refreshed_five_minutes_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let in_an_hour = now + Duration::from_secs(3600);
        assert_eq!(
            refresh_after(Some(in_an_hour), now),
            Duration::from_secs(3300)
        );
        assert_eq!(
            refresh_after(Some(now + Duration::from_secs(60)), now),
            Duration::from_secs(10),
            "never a busy loop"
        );
        assert_eq!(refresh_after(Some(now), now), Duration::from_secs(10));
        assert_eq!(refresh_after(None, now), Duration::from_secs(3600));
    }

    #[test]
    fn failed_lookups_are_retried_ever_less_often() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    fn signed_headers(auth: &XrayAuth) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        auth.authorize(
            "POST",
            "https://xray.us-west-2.amazonaws.com/v1/traces",
            &mut headers,
            b"spans",
        )
        .unwrap();
        headers
    }

    #[test]
    fn a_sigv4_signature_names_the_key_the_region_and_xray_and_hides_the_secrets() {
        let credentials =
            Credentials::new("AKIDEXAMPLE", "s3cr3t", Some("t0ken".into()), None, "test");
        let auth = XrayAuth::SigV4(Arc::new(SigV4::with_credentials("us-west-2", credentials)));
        let headers = signed_headers(&auth);
        let authorization = headers[header::AUTHORIZATION].to_str().unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(
            authorization.contains("/us-west-2/xray/aws4_request"),
            "{authorization}"
        );
        assert!(headers[header::AUTHORIZATION].is_sensitive());
        assert_eq!(headers["x-amz-security-token"], "t0ken");
        assert!(headers.contains_key("x-amz-date"));
        let shown = format!("{auth:?}");
        for secret in ["s3cr3t", "t0ken", "AKIDEXAMPLE"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn an_api_key_goes_as_a_bearer_token_and_is_never_shown() {
        let auth = XrayAuth::Bearer(Secret::new("k3y".into()));
        let headers = signed_headers(&auth);
        assert_eq!(headers[header::AUTHORIZATION], "Bearer k3y");
        assert!(headers[header::AUTHORIZATION].is_sensitive());
        assert!(!format!("{auth:?}").contains("k3y"));
    }

    #[test]
    fn without_credentials_nothing_is_signed() {
        let (_sender, credentials) = watch::channel(None);
        let auth = XrayAuth::SigV4(Arc::new(SigV4 {
            region: "us-west-2".into(),
            credentials,
            refresher: Mutex::default(),
        }));
        let mut headers = HeaderMap::new();
        let refused = auth.authorize(
            "POST",
            "https://xray.us-west-2.amazonaws.com/",
            &mut headers,
            b"",
        );
        assert!(matches!(refused, Err(AuthError::NoCredentials)));
        assert!(headers.is_empty());
    }
}
