//! Endpoints for development tools, on only with `CRUDDUR_DEV_ENDPOINTS=1`; off, their paths
//! are unknown (404) like any other.
//!
//! `POST /api/dev/trace-context` is the test service the W3C Trace Context harness
//! (w3c/trace-context, `test/`) drives: for each `{url, arguments}` in the body it POSTs
//! `arguments` to `url` through the traced client, so each call carries the context of a CLIENT
//! span in the request's trace, and the harness checks what arrives. Only loopback URLs are
//! called, with no redirect followed and no proxy (`TracedClient::direct`): the endpoint must
//! not make the backend a proxy to anywhere else.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Router, middleware};
use serde::Deserialize;
use shared::ErrorCode;

use crate::error::{ApiError, ApiJson};
use crate::loopback_host::require_loopback_host;
use crate::state::AppState;
use crate::telemetry::outbound::TracedClient;

/// The harness sends a few calls per request; more is no test.
const MAX_CALLS: usize = 16;

#[derive(Debug, Deserialize)]
pub struct Call {
    url: String,
    arguments: serde_json::Value,
}

/// Served to this machine only (`loopback_host`), and outside the write budget: the harness
/// posts far faster than a person, and each post only calls back to this machine.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dev/trace-context", post(trace_context))
        .layer(middleware::from_fn(require_loopback_host))
}

#[tracing::instrument(name = "trace-context-test", skip_all, fields(calls = calls.len()))]
async fn trace_context(
    State(client): State<TracedClient>,
    ApiJson(calls): ApiJson<Vec<Call>>,
) -> Result<StatusCode, ApiError> {
    if calls.len() > MAX_CALLS {
        return Err(ApiError::Invalid(vec![ErrorCode::InvalidBody]));
    }
    let urls = calls
        .iter()
        .map(|call| loopback_url(&call.url))
        .collect::<Option<Vec<_>>>()
        .ok_or(ApiError::Invalid(vec![ErrorCode::InvalidBody]))?;
    for (url, call) in urls.into_iter().zip(&calls) {
        let request = client
            .request(reqwest::Method::POST, url.as_str())
            .json(&call.arguments)
            .build()
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        // The outcome is on the CLIENT span; the harness judges by what it received.
        if let Err(error) = client.execute(request).await {
            tracing::warn!(%error, "the trace context harness could not be called");
        }
    }
    Ok(StatusCode::OK)
}

/// `url` when it is http(s) to this machine: a loopback address or `localhost`.
fn loopback_url(url: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(url).ok()?;
    let host = url.host_str()?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    (loopback && matches!(url.scheme(), "http" | "https")).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_called() {
        for url in [
            "http://127.0.0.1:7777/0",
            "http://127.8.9.10/",
            "http://[::1]:7777/",
            "http://localhost:7777/x",
            "https://LOCALHOST/",
        ] {
            assert!(loopback_url(url).is_some(), "{url}");
        }
        for url in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost.example.com/",
            "http://[::ffff:8.8.8.8]/",
            "file:///etc/passwd",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            assert!(loopback_url(url).is_none(), "{url}");
        }
    }
}
