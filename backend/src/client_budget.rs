//! A token bucket per client (governor's GCRA): a client is its address as `client_address`
//! finds it, IPv6 grouped by /64 (`rate_limit_key`). The relay's request and span budgets and
//! the API's write, read and search budgets are each one.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_address::{TrustedProxies, rate_limit_key};
use crate::error::ApiError;

pub struct ClientBudget {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_period: NonZeroU32,
    period: Duration,
}

impl ClientBudget {
    /// `per_period` units every `period` for each client, `burst` at once.
    pub fn new(per_period: u32, period: Duration, burst: u32) -> Self {
        let per_period = NonZeroU32::new(per_period).unwrap_or(NonZeroU32::MIN);
        let per_unit = period / per_period.get();
        let quota = Quota::with_period(per_unit)
            .unwrap_or_else(|| Quota::per_second(per_period))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        ClientBudget {
            limiter: RateLimiter::keyed(quota),
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

    /// Forgets clients whose buckets are full again, so the map stays bounded by the clients
    /// of the last moments.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_burst_waits_for_the_rate_and_others_do_not() {
        let budget = ClientBudget::new(30, Duration::from_secs(60), 30);
        let client: IpAddr = "203.0.113.1".parse().unwrap();
        for _ in 0..30 {
            assert!(budget.take(client, 1).is_ok());
        }
        let wait = budget.take(client, 1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        assert!(budget.take("203.0.113.2".parse().unwrap(), 1).is_ok());
    }
}
