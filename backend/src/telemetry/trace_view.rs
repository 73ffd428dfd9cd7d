//! The local trace view's API: recent traces from the in-memory store, both services' spans.
//! Not traced: the view polls, and every poll would otherwise become a trace to look at.

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::ErrorCode;
use shared::traces::{TraceDetail, TraceFilter, TraceSummary};

use super::trace_store::TraceStore;
use crate::error::{ApiError, ApiQuery};

/// What the view's API reads: the store, when the view is on, and where Honeycomb shows a trace.
#[derive(Clone, Default)]
pub struct TraceView {
    /// Recent traces; None when the view is off.
    pub store: Option<Arc<TraceStore>>,
    /// `HONEYCOMB_TRACE_URL`, for the view's link to the same trace in Honeycomb.
    pub honeycomb_trace_url: Option<String>,
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    TraceView: FromRef<S>,
{
    Router::new()
        .route("/api/traces", get(list))
        .route("/api/traces/{trace_id}", get(show))
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
    Ok(Json(view.store()?.list(&filter)))
}

async fn show(
    State(view): State<TraceView>,
    Path(trace_id): Path<String>,
) -> Result<Json<TraceDetail>, ApiError> {
    let mut detail = view
        .store()?
        .get(&trace_id)
        .ok_or(ApiError::NotFound(ErrorCode::TraceNotFound))?;
    detail.honeycomb_url = view
        .honeycomb_trace_url
        .as_ref()
        .map(|template| template.replace("{trace_id}", &detail.trace_id));
    Ok(Json(detail))
}
