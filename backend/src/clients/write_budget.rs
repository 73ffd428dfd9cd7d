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

use crate::clients::address::{TrustedProxies, rate_limit_key};
use crate::clients::budget::{ClientBudget, spend_one};
use crate::database::Database;
use crate::error::ApiError;
use crate::repository::SharedWriteBudgets;

const PERIOD: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct WriteBudget {
    store: Store,
    trusted_proxies: TrustedProxies,
}

/// Where the clients' budgets are kept.
#[derive(Clone)]
enum Store {
    /// This process's memory: one instance (SQLite).
    Memory(Arc<ClientBudget>),
    /// The database, which every instance on it shares (PostgreSQL).
    Database(SharedWriteBudgets),
}

impl WriteBudget {
    /// `per_minute` writes a minute for each client, as many at once, kept in memory.
    pub fn new(per_minute: u32, trusted_proxies: TrustedProxies) -> Self {
        WriteBudget {
            store: Store::Memory(Arc::new(ClientBudget::new(
                "writes", per_minute, PERIOD, per_minute,
            ))),
            trusted_proxies,
        }
    }

    /// The budget for `database`: in it on PostgreSQL, in memory on SQLite.
    pub fn for_database(
        database: &Database,
        per_minute: u32,
        trusted_proxies: TrustedProxies,
    ) -> Self {
        match SharedWriteBudgets::on(database, per_minute, PERIOD) {
            Some(shared) => WriteBudget {
                store: Store::Database(shared),
                trusted_proxies,
            },
            None => WriteBudget::new(per_minute, trusted_proxies),
        }
    }

    pub async fn forget_idle_clients(&self) {
        match &self.store {
            Store::Memory(budget) => budget.forget_idle_clients(),
            Store::Database(budgets) => {
                if let Err(error) = budgets.forget_idle_clients().await {
                    tracing::warn!(%error, "cannot forget the idle clients' write budgets yet");
                }
            }
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
    let budgets = match &writes.store {
        Store::Memory(budget) => {
            return spend_one(budget, &writes.trusted_proxies, request, next).await;
        }
        Store::Database(budgets) => budgets,
    };
    let client = rate_limit_key(writes.trusted_proxies.request_client(&request));
    match budgets.take(client).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(retry_after)) => ApiError::TooManyRequests { retry_after }.into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
