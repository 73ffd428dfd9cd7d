//! The budget of writes each client has on the API's POST routes: there is no sign-in yet, so
//! anyone who reaches the API can post, and this bounds how fast one client fills the database.
//! The client is found as the relay finds it (`client_address`, trusted proxies included).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::clients::address::TrustedProxies;
use crate::clients::budget::{ClientBudget, spend_one};

#[derive(Clone)]
pub struct WriteBudget {
    budget: Arc<ClientBudget>,
    trusted_proxies: TrustedProxies,
}

impl WriteBudget {
    /// `per_minute` writes a minute for each client, as many at once.
    pub fn new(per_minute: u32, trusted_proxies: TrustedProxies) -> Self {
        WriteBudget {
            budget: Arc::new(ClientBudget::new(
                "writes",
                per_minute,
                Duration::from_secs(60),
                per_minute,
            )),
            trusted_proxies,
        }
    }

    pub fn forget_idle_clients(&self) {
        self.budget.forget_idle_clients();
    }
}

/// A POST takes one write from its client's budget before anything else happens; past it, 429
/// with `Retry-After`. Other methods pass.
pub async fn limit_writes(
    State(writes): State<WriteBudget>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    spend_one(&writes.budget, &writes.trusted_proxies, request, next).await
}
