//! What the handlers and middleware share. Each takes only its part, through `FromRef`: the
//! routes the repository, request tracing X-Ray's request side, the relay and the trace view
//! their own.

use std::sync::Arc;

use crate::clients::read_budget::ReadBudget;
use crate::clients::write_budget::WriteBudget;
use crate::kept_page::KeptPage;
use crate::readiness::Readiness;
use crate::relay::Relay;
use crate::repository::Repository;
use crate::telemetry::outbound::TracedClient;
use crate::telemetry::request_tracing::RequestTracing;
use crate::trace_view::TraceView;
use axum::extract::FromRef;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub repository: Arc<dyn Repository>,
    /// The home page between the writes that change it.
    pub kept_home_page: Arc<KeptPage>,
    /// For the dev endpoints' calls to this machine, each joining the request's trace.
    pub http_client: TracedClient,
    /// What the request spans need: X-Ray's per-request decision and who the client is.
    pub request_tracing: RequestTracing,
    /// Forwards the browser's spans.
    pub relay: Relay,
    /// Serves the local trace view's API.
    pub trace_view: TraceView,
    /// How fast each client may post.
    pub write_budget: WriteBudget,
    /// How fast each client may read, and search.
    pub read_budget: ReadBudget,
    /// Whether a load balancer should send this instance requests.
    pub readiness: Readiness,
}

impl AppState {
    /// Fails only when the outbound HTTP client cannot be built.
    pub fn new(
        repository: Arc<dyn Repository>,
        request_tracing: RequestTracing,
        relay: Relay,
        trace_view: TraceView,
        write_budget: WriteBudget,
        read_budget: ReadBudget,
    ) -> reqwest::Result<Self> {
        Ok(AppState {
            repository,
            kept_home_page: Arc::default(),
            http_client: TracedClient::direct()?,
            request_tracing,
            relay,
            trace_view,
            write_budget,
            read_budget,
            readiness: Readiness::default(),
        })
    }
}
