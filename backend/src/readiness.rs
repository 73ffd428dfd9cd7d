//! Whether this instance is draining: from the moment the server is told to stop,
//! `/api/health/ready` (`routes::health::ready`) answers 503 while the server serves on for the
//! drain delay (`CRUDDUR_DRAIN_DELAY`), long enough for a load balancer that checks it to stop
//! sending before the listener closes; what the load balancer sent meanwhile is answered as
//! usual.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
