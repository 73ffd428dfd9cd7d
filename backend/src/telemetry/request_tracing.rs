//! One SERVER span per request, continuing the caller's W3C trace context, with the stable
//! HTTP semantic conventions, and a `traceresponse` header so the caller can find the trace.
//!
//! Written here rather than taken from axum-tracing-opentelemetry 0.42: that crate declares
//! the client address under an old field name (so `client.address` is silently dropped), sets
//! no `error.type`, and answers with `traceparent` instead of Trace Context Level 2's
//! `traceresponse`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::Body as _;
use opentelemetry::global;
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::xray::{self, XrayRecorder, XrayRequest};
use crate::clients::address::TrustedProxies;
use crate::trace_format::hex;

/// Still "development" in the conventions, so the crate has it only behind semconv_experimental.
const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";

pub const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// What the middleware needs, and nothing more.
#[derive(Clone, Default)]
pub struct RequestTracing {
    /// X-Ray's request side; None when X-Ray is off.
    pub xray: Option<XrayRecorder>,
    /// Whose forwarding headers name the client (`client.address`).
    pub trusted_proxies: TrustedProxies,
}

pub async fn trace_request(
    State(tracing_state): State<RequestTracing>,
    request: Request,
    next: Next,
) -> Response {
    let recorder = tracing_state.xray;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    // Without a matched route the semantic conventions name the span after the method alone,
    // and an unknown method (any string a client sends) `HTTP`.
    let name_method = known_method(request.method()).unwrap_or("HTTP");
    let span_name = match &route {
        Some(route) => format!("{name_method} {route}"),
        None => name_method.to_owned(),
    };
    // Recorded as the span is made, in one pass, rather than one attribute at a time after.
    let attributes =
        RequestAttributes::read(&request, route.as_deref(), &tracing_state.trusted_proxies);
    let span = tracing::info_span!(
        "request",
        otel.name = span_name.as_str(),
        otel.kind = "server",
        trace_id = Empty,
        http.request.method = attributes.method,
        http.request.method_original = attributes.method_original,
        http.route = attributes.route,
        url.path = attributes.path,
        url.query = attributes.query,
        url.scheme = attributes.scheme,
        server.address = attributes
            .server
            .as_ref()
            .map(|(address, _)| address.as_str()),
        server.port = attributes.server.as_ref().map(|(_, port)| *port),
        client.address = attributes
            .client
            .as_ref()
            .map(|(client, _)| client.as_str()),
        network.peer.address = attributes.client.as_ref().map(|(_, peer)| peer.as_str()),
        user_agent.original = attributes.user_agent,
        network.protocol.version = attributes.protocol_version,
    );
    drop(attributes);
    let mut parent = global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let mut xray_decision = None;
    let mut xray_root = None;
    if recorder.is_some()
        && !parent.span().span_context().is_valid()
        && let Some((context, decision)) = xray::incoming_trace(request.headers())
    {
        xray_root = (!context.is_valid()).then(|| context.trace_id());
        parent = parent.with_remote_span_context(context);
        xray_decision = decision;
    }
    // Fails only when no OpenTelemetry layer is installed (OTEL_SDK_DISABLED): nothing to join then.
    let _ = span.set_parent(parent);

    let span_context = xray::ids::start_in_trace(xray_root, || span.context())
        .span()
        .span_context()
        .clone();
    let mut xray_header = None;
    if span_context.is_valid() {
        span.record(
            "trace_id",
            hex(&span_context.trace_id().to_bytes()).as_str(),
        );
        if let Some(recorder) = &recorder {
            xray_header = Some(recorder.begin(&XrayRequest {
                trace_id: span_context.trace_id(),
                upstream_decision: xray_decision,
                host: header_str(request.headers(), header::HOST.as_str()),
                method: &method,
                path: request.uri().path(),
            }));
        }
    }

    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.set_attribute(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    );
    // Content-Length is written later, by the server, from this same size.
    if let Some(length) = response.body().size_hint().exact() {
        span.set_attribute(
            HTTP_RESPONSE_BODY_SIZE,
            i64::try_from(length).unwrap_or(i64::MAX),
        );
    }
    if status.is_server_error() {
        span.set_attribute(semconv::ERROR_TYPE, status.as_str().to_owned());
        span.set_status(Status::error(status.to_string()));
    }
    // Under the span without entering it, which would cost every request a look-up in each layer.
    tracing::info!(
        parent: &span,
        status = status.as_u16(),
        latency = ?started.elapsed(),
        "finished"
    );
    let headers = response.headers_mut();
    if let Some(value) = traceresponse(&span_context) {
        headers.insert(TRACERESPONSE, value);
    }
    if let Some(value) = xray_header {
        headers.insert(xray::X_AMZN_TRACE_ID, value);
    }
    response
}

/// The method as the HTTP semantic conventions write it, when they know it (case included).
fn known_method(method: &Method) -> Option<&str> {
    KNOWN_METHODS.contains(method).then_some(method.as_str())
}

const KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// The request's attributes under the HTTP semantic conventions' names. Its headers are never
/// copied wholesale: `Authorization` and `Cookie` carry credentials, and only the headers named
/// here become attributes.
struct RequestAttributes<'a> {
    /// `http.request.method`: the method as the conventions write it, or `_OTHER`.
    method: &'a str,
    /// `http.request.method_original`, for a method the conventions don't know.
    method_original: Option<&'a str>,
    route: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    scheme: &'a str,
    /// `server.address` and `server.port`.
    server: Option<(String, i64)>,
    /// `client.address` and `network.peer.address`.
    client: Option<(String, String)>,
    user_agent: Option<&'a str>,
    protocol_version: &'static str,
}

impl<'a> RequestAttributes<'a> {
    fn read(
        request: &'a Request,
        route: Option<&'a str>,
        trusted_proxies: &TrustedProxies,
    ) -> Self {
        let uri = request.uri();
        let headers = request.headers();
        let method = request.method();
        let (method, method_original) = match known_method(method) {
            Some(known) => (known, None),
            None => ("_OTHER", Some(method.as_str())),
        };
        // TLS ends in front of this server (a load balancer), which says so in X-Forwarded-Proto.
        let scheme = header_str(headers, "x-forwarded-proto").unwrap_or("http");
        let client =
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| {
                    let client = trusted_proxies.client_address(*peer, headers);
                    (client.to_string(), peer.ip().to_string())
                });
        RequestAttributes {
            method,
            method_original,
            route,
            path: uri.path(),
            query: uri.query(),
            scheme,
            server: server_address(headers, scheme),
            client,
            user_agent: header_str(headers, header::USER_AGENT.as_str()),
            protocol_version: protocol_version(request.version()),
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `server.address` and `server.port` from the Host header, as the conventions ask.
fn server_address(headers: &HeaderMap, scheme: &str) -> Option<(String, i64)> {
    let host = header_str(headers, header::HOST.as_str())?;
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = authority.port_u16().unwrap_or(default_port);
    Some((authority.host().to_owned(), i64::from(port)))
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// W3C Trace Context Level 2 `traceresponse`: version-traceid-spanid-flags of the server span.
fn traceresponse(span_context: &SpanContext) -> Option<HeaderValue> {
    span_context.is_valid().then(|| {
        let value = super::propagation::version_00(span_context, span_context.trace_flags());
        HeaderValue::from_str(&value).expect("hex digits and dashes are a valid header value")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::testing::capture_spans;
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use opentelemetry::trace::{SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_server_error_marks_the_span_as_an_error_with_its_type() {
        let (exporter, _default) = capture_spans();
        let router = Router::new()
            .route("/upstream/{id}", get(|| async { StatusCode::BAD_GATEWAY }))
            .layer(axum::middleware::from_fn_with_state(
                RequestTracing::default(),
                trace_request,
            ));

        let request = Request::get("/upstream/7").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);

        let spans = exporter.get_finished_spans().unwrap();
        let span = &spans[0];
        assert_eq!(span.name, "GET /upstream/{id}");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert!(
            matches!(span.status, Status::Error { .. }),
            "{:?}",
            span.status
        );
        let error_type = span
            .attributes
            .iter()
            .find(|attribute| attribute.key.as_str() == semconv::ERROR_TYPE)
            .map(|attribute| attribute.value.to_string());
        assert_eq!(error_type.as_deref(), Some("502"));
    }

    #[test]
    fn traceresponse_names_the_server_span() {
        let context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        assert_eq!(
            traceresponse(&context).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(traceresponse(&SpanContext::empty_context()), None);
    }

    #[test]
    fn the_server_address_comes_from_the_host_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost:4567"));
        assert_eq!(
            server_address(&headers, "http"),
            Some(("localhost".to_owned(), 4567))
        );
        headers.insert(header::HOST, HeaderValue::from_static("api.cruddur.com"));
        assert_eq!(
            server_address(&headers, "https"),
            Some(("api.cruddur.com".to_owned(), 443))
        );
    }
}
