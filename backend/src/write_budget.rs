//! The budget of writes each client has on the API's POST routes: there is no sign-in yet, so
//! anyone who reaches the API can post, and this bounds how fast one client fills the database.
//! The client is found as the relay finds it (`client_address`, trusted proxies included).
//! On PostgreSQL the budget is kept in the database, one for each client across every instance
//! on it (`SharedWriteBudgets`); on SQLite, which one process serves, it stays in memory.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::client_address::{TrustedProxies, rate_limit_key};
use crate::client_budget::{ClientBudget, spend_one};
use crate::database::{Database, DatabaseSystem};
use crate::error::ApiError;
use crate::repository::SharedWriteBudgets;

const PERIOD: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct WriteBudget {
    budget: Arc<ClientBudget>,
    /// On PostgreSQL, the budget every instance shares; `budget` then goes unused.
    shared: Option<SharedWriteBudgets>,
    trusted_proxies: TrustedProxies,
}

impl WriteBudget {
    /// `per_minute` writes a minute for each client, as many at once.
    pub fn new(per_minute: u32, trusted_proxies: TrustedProxies) -> Self {
        WriteBudget {
            budget: Arc::new(ClientBudget::new("writes", per_minute, PERIOD, per_minute)),
            shared: None,
            trusted_proxies,
        }
    }

    /// The budget for `database`: in it on PostgreSQL, in memory on SQLite.
    pub fn for_database(
        database: &Database,
        per_minute: u32,
        trusted_proxies: TrustedProxies,
    ) -> Self {
        let mut budget = WriteBudget::new(per_minute, trusted_proxies);
        if database.info.system == DatabaseSystem::Postgres {
            budget.shared = Some(SharedWriteBudgets::new(database, per_minute, PERIOD));
        }
        budget
    }

    pub async fn forget_idle_clients(&self) {
        self.budget.forget_idle_clients();
        if let Some(shared) = &self.shared
            && let Err(error) = shared.forget_idle_clients().await
        {
            tracing::warn!(%error, "cannot forget the idle clients' write budgets yet");
        }
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
    let Some(shared) = &writes.shared else {
        return spend_one(&writes.budget, &writes.trusted_proxies, request, next).await;
    };
    let client = rate_limit_key(writes.trusted_proxies.request_client(&request));
    match shared.take(client).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(retry_after)) => ApiError::TooManyRequests { retry_after }.into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
