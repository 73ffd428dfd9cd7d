//! A token bucket per client (governor's GCRA): a client is its address as `client_address`
//! finds it, IPv6 grouped by /64 (`rate_limit_key`). The relay's request and span budgets and
//! the API's write, read and search budgets are each one.
//!
//! Each budget remembers at most `MAX_CLIENTS` clients: a client with many addresses (an IPv6
//! network holds billions of /64s) must not grow the map until the next sweep. Past the bound,
//! every client not already remembered shares one overflow bucket, so the clients already
//! known keep their own budgets and the newcomers together get one client's; each request
//! sent to the overflow bucket is counted and logged at a bounded rate.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

use crate::clients::address::{TrustedProxies, rate_limit_key};
use crate::error::ApiError;
use crate::losses::LossCounter;

/// How many clients one budget remembers: some megabytes of buckets, far more clients than
/// are active within one sweep period.
pub const MAX_CLIENTS: usize = 65_536;

/// The key the clients past `MAX_CLIENTS` share: the unspecified IPv6 address, which no peer
/// and no forwarded hop has (`client_address` reads `::ffff:0.0.0.0` as IPv4).
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

pub struct ClientBudget {
    limiter: RateLimiter<IpAddr, BoundedClients, DefaultClock, NoOpMiddleware>,
    per_period: NonZeroU32,
    period: Duration,
}

impl ClientBudget {
    /// `per_period` units every `period` for each client, `burst` at once; `name` says which
    /// budget in the log line about its overflow.
    pub fn new(name: &'static str, per_period: u32, period: Duration, burst: u32) -> Self {
        Self::bounded(name, per_period, period, burst, MAX_CLIENTS)
    }

    fn bounded(
        name: &'static str,
        per_period: u32,
        period: Duration,
        burst: u32,
        max_clients: usize,
    ) -> Self {
        let per_period = NonZeroU32::new(per_period).unwrap_or(NonZeroU32::MIN);
        let per_unit = period / per_period.get();
        let quota = Quota::with_period(per_unit)
            .unwrap_or_else(|| Quota::per_second(per_period))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        let clients = BoundedClients {
            buckets: DashMapStateStore::default(),
            max_clients,
            overflowed: LossCounter::default(),
            name,
        };
        ClientBudget {
            limiter: RateLimiter::new(quota, clients, DefaultClock::default()),
            per_period,
            period,
        }
    }

    /// Takes `units` from `client`'s bucket, or says how long until they would be there.
    pub fn take(&self, client: IpAddr, units: u32) -> Result<(), Duration> {
        let Some(units) = NonZeroU32::new(units) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&rate_limit_key(client), units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            // More than a burst can never pass: the whole periods they would take at the rate.
            Err(_) => Err(self.period * units.get().div_ceil(self.per_period.get())),
        }
    }

    /// Forgets clients whose buckets are full again, so the map holds only the clients of the
    /// last moments.
    pub fn forget_idle_clients(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Takes one unit from the budget of `request`'s client before anything else happens, then
/// runs it; past the budget, 429 with `Retry-After`.
pub async fn spend_one(
    budget: &ClientBudget,
    trusted_proxies: &TrustedProxies,
    request: Request,
    next: Next,
) -> Response {
    let client = trusted_proxies.request_client(&request);
    match budget.take(client, 1) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => ApiError::TooManyRequests { retry_after }.into_response(),
    }
}

/// governor's concurrent map of buckets, which past `max_clients` sends new clients to the
/// shared overflow bucket: governor's own stores have no bound of their own.
struct BoundedClients {
    buckets: DashMapStateStore<IpAddr>,
    max_clients: usize,
    overflowed: LossCounter,
    name: &'static str,
}

impl StateStore for BoundedClients {
    type Key = IpAddr;

    fn measure_and_replace<T, F, E>(&self, key: &IpAddr, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let full = self.buckets.len() >= self.max_clients;
        if full && !self.buckets.contains_key(key) {
            if let Some(report) = self.overflowed.add(1) {
                tracing::warn!(
                    budget = self.name,
                    max_clients = self.max_clients,
                    requests = report.since_last_report,
                    requests_so_far = report.total,
                    "a client budget remembers as many clients as it may: new clients share \
                     one bucket until idle ones are forgotten"
                );
            }
            return self.buckets.measure_and_replace(&OVERFLOW, f);
        }
        self.buckets.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<IpAddr> for BoundedClients {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.buckets, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.buckets);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&self.buckets)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&self.buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn a_client_past_its_burst_waits_for_the_rate_and_others_do_not() {
        let budget = ClientBudget::new("test", 30, Duration::from_secs(60), 30);
        let client = ip("203.0.113.1");
        for _ in 0..30 {
            assert!(budget.take(client, 1).is_ok());
        }
        let wait = budget.take(client, 1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        assert!(budget.take(ip("203.0.113.2"), 1).is_ok());
    }

    #[test]
    fn past_its_bound_new_clients_share_one_bucket_and_known_clients_keep_their_own() {
        let budget = ClientBudget::bounded("test", 2, Duration::from_secs(60), 2, 3);
        for known in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            assert!(budget.take(ip(known), 1).is_ok());
        }
        let newcomers: Vec<bool> = (10..20)
            .map(|host| budget.take(ip(&format!("203.0.113.{host}")), 1).is_ok())
            .collect();
        assert_eq!(
            newcomers.iter().filter(|passed| **passed).count(),
            2,
            "ten new clients share one burst of two: {newcomers:?}"
        );
        assert!(
            budget.take(ip("198.51.100.1"), 1).is_ok(),
            "a known client still has its own bucket"
        );
        assert!(
            budget.limiter.len() <= 4,
            "three clients and the overflow bucket"
        );
    }
}
