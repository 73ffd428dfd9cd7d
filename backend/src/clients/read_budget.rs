//! The budget of reads each client has on the API's GET routes, with a stricter one of its
//! own for search, the read that costs the database most: reads are free to make, and without
//! a bound one client's reads take the pool's connections from everyone else. The client is
//! found as for writes (`client_address`, trusted proxies included).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::clients::address::TrustedProxies;
use crate::clients::budget::{ClientBudget, spend_one};

/// The route whose reads spend the search budget instead of the read budget.
pub const SEARCH_PATH: &str = "/api/activities/search";

#[derive(Clone)]
pub struct ReadBudget {
    reads: Arc<ClientBudget>,
    searches: Arc<ClientBudget>,
    trusted_proxies: TrustedProxies,
}

impl ReadBudget {
    /// `reads_per_minute` reads and `searches_per_minute` searches a minute for each client,
    /// as many of each at once.
    pub fn new(
        reads_per_minute: u32,
        searches_per_minute: u32,
        trusted_proxies: TrustedProxies,
    ) -> Self {
        let per_minute = |name, units| {
            Arc::new(ClientBudget::new(
                name,
                units,
                Duration::from_secs(60),
                units,
            ))
        };
        ReadBudget {
            reads: per_minute("reads", reads_per_minute),
            searches: per_minute("searches", searches_per_minute),
            trusted_proxies,
        }
    }

    pub fn forget_idle_clients(&self) {
        self.reads.forget_idle_clients();
        self.searches.forget_idle_clients();
    }
}

/// A GET (or HEAD) takes one read, or one search on `SEARCH_PATH`, from its client's budget
/// before anything else happens; past it, 429 with `Retry-After`. Other methods pass.
pub async fn limit_reads(
    State(reads): State<ReadBudget>,
    request: Request,
    next: Next,
) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let budget = if request.uri().path() == SEARCH_PATH {
        &reads.searches
    } else {
        &reads.reads
    };
    spend_one(budget, &reads.trusted_proxies, request, next).await
}
