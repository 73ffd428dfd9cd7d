//! `/api/health` for compose health checks (liveness: a container that fails it is restarted),
//! `/api/health/ready` for load balancers (whether to send this instance requests), and
//! `/api/health/relay` for the people running the server. None makes spans.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use shared::ErrorCode;

use crate::error::ApiError;
use crate::readiness::Readiness;
use crate::relay::Relay;
use crate::repository::Repository;

/// Longer than a healthy probe ever takes, shorter than `backend health-check`'s deadline.
const PROBE_DEADLINE: Duration = Duration::from_millis(1500);

/// Healthy when the database answers and would take a write: a read-only, corrupt or
/// unreachable database answers 503, so the container is marked unhealthy.
pub async fn health(
    State(repository): State<Arc<dyn Repository>>,
) -> Result<Json<Value>, ApiError> {
    let unhealthy = ApiError::DatabaseUnavailable;
    match tokio::time::timeout(PROBE_DEADLINE, repository.check_health()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ok" }))),
        Ok(Err(error)) => Err(unhealthy(error.to_string())),
        Err(_) => Err(unhealthy(format!("no answer within {PROBE_DEADLINE:?}"))),
    }
}

/// 503 `shutting_down` once draining began; otherwise what the health check answers (the
/// database takes a write), so an instance that cannot serve receives nothing either.
pub async fn ready(
    State(readiness): State<Readiness>,
    repository: State<Arc<dyn Repository>>,
) -> Result<Json<Value>, ApiError> {
    if readiness.is_draining() {
        return Err(ApiError::Unavailable(ErrorCode::ShuttingDown));
    }
    health(repository).await
}

/// What the trace relay accepted, refused and lost, so nothing is dropped unseen. Only for a
/// client on this machine that no proxy forwarded: how often each refusal happens tells an
/// attacker which budget to aim at. Anyone else finds nothing here.
pub async fn relay_counts(
    State(relay): State<Relay>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    if !peer.ip().to_canonical().is_loopback() || forwarded {
        return Err(ApiError::NotFound(ErrorCode::NotFound));
    }
    Ok(Json(json!({ "relay": relay.counts() })))
}
