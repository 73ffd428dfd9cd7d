//! The local trace view's API: recent traces from the in-memory store, both services' spans.
//! Not traced: the view polls, and every poll would otherwise become a trace to look at.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::ErrorCode;
use shared::traces::{TraceDetail, TraceFilter, TraceSummary};

use crate::error::{ApiError, ApiQuery};
use crate::startup::AppState;
use crate::trace_store::TraceStore;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/traces", get(list))
        .route("/api/traces/{trace_id}", get(show))
}

fn store(state: &AppState) -> Result<&Arc<TraceStore>, ApiError> {
    state
        .traces
        .as_ref()
        .ok_or(ApiError::NotFound(ErrorCode::LocalTracesOff))
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<TraceFilter>,
) -> Result<Json<Vec<TraceSummary>>, ApiError> {
    Ok(Json(store(&state)?.list(&filter)))
}

async fn show(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Json<TraceDetail>, ApiError> {
    let mut detail = store(&state)?
        .get(&trace_id)
        .ok_or(ApiError::NotFound(ErrorCode::TraceNotFound))?;
    detail.honeycomb_url = state
        .honeycomb_trace_url
        .as_ref()
        .map(|template| template.replace("{trace_id}", &detail.trace_id));
    Ok(Json(detail))
}
