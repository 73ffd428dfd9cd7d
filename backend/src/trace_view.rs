//! The local trace view's API: recent traces from the in-memory store, both services' spans.
//! Not traced: the view polls, and every poll would otherwise become a trace to look at.

pub mod honeycomb_links;
pub mod settings;
pub mod store;

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde::Serialize;
use shared::ErrorCode;
use shared::traces::{TraceFilter, TraceSummary};

use crate::error::{ApiError, ApiQuery};
use crate::loopback_host::require_loopback_host;
use crate::telemetry;
use crate::telemetry::outbound::TracedClient;
use crate::telemetry::settings::TelemetrySettings;
use honeycomb_links::{HoneycombLinks, HoneycombLookup};
use settings::LocalTracesSettings;
use store::TraceStore;

/// The store the view reads and the backend's and the relay's spans are copied into, when the
/// view is on.
pub fn store(settings: &LocalTracesSettings) -> Option<Arc<TraceStore>> {
    settings
        .enabled
        .then(|| Arc::new(TraceStore::new(settings.limits)))
}

/// What the view's API reads: the store, when the view is on, and where Honeycomb shows a trace.
#[derive(Clone, Default)]
pub struct TraceView {
    /// Recent traces; None when the view is off.
    pub store: Option<Arc<TraceStore>>,
    /// For the view's link to the same trace in Honeycomb.
    pub honeycomb: HoneycombLinks,
    /// For the view's link to the same trace in X-Ray's console: its region, when X-Ray is on.
    pub xray_console_region: Option<String>,
}

impl TraceView {
    /// The view over `store`, with its links to the same trace in Honeycomb and X-Ray.
    /// Fails only when the client that asks Honeycomb for the link cannot be built.
    pub fn new(
        store: Option<Arc<TraceStore>>,
        settings: &LocalTracesSettings,
        telemetry: &TelemetrySettings,
    ) -> reqwest::Result<Self> {
        Ok(TraceView {
            store,
            honeycomb: honeycomb_links(settings, telemetry)?,
            xray_console_region: telemetry
                .xray
                .console_region
                .clone()
                .filter(|_| telemetry.xray.enabled),
        })
    }
}

/// The link from a trace to Honeycomb: `HONEYCOMB_TRACE_URL` as set, else learned from
/// Honeycomb when spans go there with a key, else none.
fn honeycomb_links(
    settings: &LocalTracesSettings,
    otlp: &TelemetrySettings,
) -> reqwest::Result<HoneycombLinks> {
    if let Some(template) = &settings.honeycomb_trace_url {
        return Ok(HoneycombLinks::fixed(template.clone()));
    }
    let lookup = HoneycombLookup::from_settings(
        settings.honeycomb_api_endpoint.as_deref(),
        otlp.traces_endpoint
            .as_deref()
            .filter(|_| !otlp.sdk_disabled),
        otlp.headers
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        &telemetry::service_name(),
    );
    Ok(match lookup {
        Some(lookup) => HoneycombLinks::learn(lookup, TracedClient::new()?),
        None => HoneycombLinks::default(),
    })
}

/// `GET /api/trace-link`: the Honeycomb link's template, `{trace_id}` where the id goes, or
/// null. The browser links its traces with it (the console, the developer's indicator) in
/// every build, so it is served whether the view is on or off, and says nothing else.
#[derive(Serialize)]
struct TraceLink<'a> {
    template: Option<&'a str>,
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    TraceView: FromRef<S>,
{
    // The traces are every user's requests: for this machine only (`loopback_host`).
    Router::new()
        .route("/api/traces", get(list))
        .route("/api/traces/{trace_id}", get(show))
        .layer(middleware::from_fn(require_loopback_host))
        .route("/api/trace-link", get(trace_link))
}

impl TraceView {
    fn store(&self) -> Result<&Arc<TraceStore>, ApiError> {
        self.store
            .as_ref()
            .ok_or(ApiError::NotFound(ErrorCode::LocalTracesOff))
    }
}

async fn list(
    State(view): State<TraceView>,
    ApiQuery(filter): ApiQuery<TraceFilter>,
) -> Result<Json<Vec<TraceSummary>>, ApiError> {
    let store = view.store()?.clone();
    let summaries = off_the_workers(move || store.list(&filter)).await?;
    Ok(Json(summaries))
}

async fn show(
    State(view): State<TraceView>,
    Path(trace_id): Path<String>,
) -> Result<Response, ApiError> {
    let store = view.store()?.clone();
    let honeycomb = view.honeycomb.clone();
    let xray_console_region = view.xray_console_region.clone();
    off_the_workers(move || {
        let mut detail = store
            .get(&trace_id)
            .ok_or(ApiError::NotFound(ErrorCode::TraceNotFound))?;
        detail.honeycomb_url = honeycomb.trace_url(&detail.trace_id);
        detail.xray_url = xray_console_region
            .as_deref()
            .map(|region| xray_console_url(region, &detail.xray_trace_id));
        // Serialized here too: a trace at its cap makes a long body.
        Ok(Json(detail).into_response())
    })
    .await?
}

async fn trace_link(State(view): State<TraceView>) -> Response {
    Json(TraceLink {
        template: view.honeycomb.template(),
    })
    .into_response()
}

/// Where AWS's CloudWatch console shows an X-Ray trace; `region` is letters, digits and dashes.
fn xray_console_url(region: &str, xray_trace_id: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{xray_trace_id}"
    )
}

/// Runs `work` on the blocking pool: a list or a trace at the store's caps takes longer than an
/// async worker may be held.
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(format!("the trace view's work failed: {error}")))
}
