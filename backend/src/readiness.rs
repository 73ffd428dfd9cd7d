//! Readiness, apart from liveness: `/api/health` says whether this instance works (a container
//! that fails it is restarted), `/api/health/ready` whether a load balancer should send it
//! requests. From the moment the server is told to stop, ready answers 503 while the server
//! serves on for the drain delay (`CRUDDUR_DRAIN_DELAY`), long enough for a load balancer that
//! checks it to stop sending before the listener closes; what the load balancer sent meanwhile
//! is answered as usual. Makes no spans, like the health check.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use shared::ErrorCode;

use crate::error::ApiError;
use crate::repository::Repository;
use crate::routes::health;

#[derive(Clone, Default)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
}

impl Readiness {
    /// Answers not ready from now on, and returns after `delay`, while the server still serves.
    pub async fn drain(&self, delay: Duration) {
        self.draining.store(true, Ordering::Relaxed);
        if !delay.is_zero() {
            tracing::info!(
                ?delay,
                "draining: answering not ready, and serving on until load balancers stop sending"
            );
            tokio::time::sleep(delay).await;
        }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
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
    health::health(repository).await
}
