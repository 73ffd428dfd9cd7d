//! The one HTTP client for every call the backend makes to other services: each call is a
//! CLIENT span (stable HTTP semantic conventions) whose context travels in `traceparent`, so
//! the service called continues the same trace. The OTLP exporter has its own client and is
//! never traced.
//!
//! Written here because reqwest-tracing, the maintained middleware for this, supports
//! OpenTelemetry only up to 0.32 and this workspace is on 0.33.

use std::time::Duration;

use opentelemetry::global;
use opentelemetry::trace::Status;
use opentelemetry_http::HeaderInjector;
use opentelemetry_semantic_conventions::attribute as semconv;
use reqwest::{Request, Response};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::redact;

/// Outbound calls that take longer than this fail rather than hold a request open.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The answer's body, read no further than `limit` bytes whatever the other end sends, so a
/// broken or hostile service can't grow memory: an error past it.
pub async fn read_at_most(mut response: Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| error.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("it answered more than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, Clone)]
pub struct TracedClient {
    client: reqwest::Client,
}

impl TracedClient {
    pub fn new() -> reqwest::Result<Self> {
        Self::built(reqwest::Client::builder())
    }

    /// For calls to this machine only: no redirect is followed, since one could lead anywhere,
    /// and no proxy is used, since `HTTP_PROXY` would carry the call elsewhere.
    pub fn direct() -> reqwest::Result<Self> {
        Self::built(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy(),
        )
    }

    fn built(builder: reqwest::ClientBuilder) -> reqwest::Result<Self> {
        Ok(TracedClient {
            client: without_redirects(builder).timeout(TIMEOUT).build()?,
        })
    }

    /// Starts a request; send it with [`TracedClient::execute`].
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    pub async fn execute(&self, mut request: Request) -> reqwest::Result<Response> {
        let method = request.method().as_str().to_owned();
        let span =
            tracing::info_span!("outbound request", otel.name = %method, otel.kind = "client");
        let url = request.url();
        span.set_attribute(semconv::HTTP_REQUEST_METHOD, method);
        span.set_attribute(semconv::URL_FULL, redact::url(url));
        if let Some(host) = url.host_str() {
            span.set_attribute(semconv::SERVER_ADDRESS, host.to_owned());
        }
        if let Some(port) = url.port_or_known_default() {
            span.set_attribute(semconv::SERVER_PORT, i64::from(port));
        }
        let context = span.context();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(request.headers_mut()));
        });

        let result = self.client.execute(request).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.set_attribute(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(status.as_u16()),
                );
                // For a client, a 4xx is a failed call too.
                if status.is_client_error() || status.is_server_error() {
                    span.set_attribute(semconv::ERROR_TYPE, status.as_str().to_owned());
                    span.set_status(Status::error(status.to_string()));
                }
            }
            Err(error) => {
                let error_type = if error.is_timeout() {
                    "timeout"
                } else if error.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                span.set_attribute(semconv::ERROR_TYPE, error_type);
                span.set_status(Status::error(error.to_string()));
            }
        }
        result
    }
}

/// Every client the backend makes: a redirect would carry Honeycomb's key, an X-Ray signature
/// or the trace context to a host nobody configured, so none is followed.
pub(crate) fn without_redirects(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder.redirect(reqwest::redirect::Policy::none())
}

/// A blocking client for the exporters' threads, built on a thread of its own: reqwest's
/// blocking client can't be made on an async runtime's thread. It follows no redirect, as
/// [`without_redirects`] says why.
pub(crate) fn blocking_client(timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
    })
    .join()
    .map_err(|_| "building the HTTP client panicked".to_owned())?
    .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::testing::capture_spans;
    use axum::Router;
    use axum::http::HeaderMap;
    use axum::routing::get;
    use opentelemetry::trace::SpanKind;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn an_outbound_call_is_a_client_span_whose_context_travels_along() {
        let received = Arc::new(Mutex::new(None));
        let store = received.clone();
        let service = Router::new().route(
            "/users",
            get(move |headers: HeaderMap| async move {
                *store.lock().unwrap() = headers
                    .get("traceparent")
                    .map(|value| value.to_str().unwrap().to_owned());
                axum::http::StatusCode::NOT_FOUND
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, service).await });

        let (exporter, _default) = capture_spans();
        let client = TracedClient::new().unwrap();
        let request = client
            .request(
                reqwest::Method::GET,
                &format!("http://user:pw@{address}/users?id=7"),
            )
            .build()
            .unwrap();
        let parent = tracing::info_span!("caller");
        let response = client.execute(request).instrument(parent).await.unwrap();
        assert_eq!(response.status(), 404);

        let spans = exporter.get_finished_spans().unwrap();
        let outbound = spans.iter().find(|span| span.name == "GET").unwrap();
        let caller = spans.iter().find(|span| span.name == "caller").unwrap();
        assert_eq!(outbound.span_kind, SpanKind::Client);
        assert_eq!(outbound.parent_span_id, caller.span_context.span_id());
        let traceparent = received
            .lock()
            .unwrap()
            .clone()
            .expect("traceparent was sent");
        assert_eq!(
            traceparent,
            format!(
                "00-{}-{}-01",
                outbound.span_context.trace_id(),
                outbound.span_context.span_id()
            )
        );
        let attribute = |key: &str| {
            outbound
                .attributes
                .iter()
                .find(|attribute| attribute.key.as_str() == key)
                .map(|attribute| attribute.value.to_string())
        };
        assert_eq!(
            attribute("url.full"),
            Some(format!("http://{address}/users")),
            "the query may carry a secret"
        );
        assert_eq!(attribute("http.request.method").as_deref(), Some("GET"));
        assert_eq!(attribute("server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attribute("server.port"), Some(address.port().to_string()));
        assert_eq!(
            attribute("http.response.status_code").as_deref(),
            Some("404")
        );
        assert_eq!(attribute("error.type").as_deref(), Some("404"));
    }
}
