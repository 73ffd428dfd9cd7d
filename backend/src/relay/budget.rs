//! How much each client, and everyone together, may relay: requests and spans per second, as
//! token buckets (governor's GCRA). A client is its address as `client_address` finds it,
//! IPv6 grouped by /64, so a proxy's clients each get their own budget.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::clients::budget::ClientBudget;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayBudgets {
    pub requests_per_second: u32,
    pub request_burst: u32,
    pub spans_per_second: u32,
    pub span_burst: u32,
    /// For all clients together.
    pub global_spans_per_second: u32,
    pub global_span_burst: u32,
}

impl Default for RelayBudgets {
    /// A tab exports every few seconds and on page hide, a few dozen spans at a time.
    fn default() -> Self {
        RelayBudgets {
            requests_per_second: 5,
            request_burst: 20,
            spans_per_second: 2_000,
            span_burst: 10_000,
            global_spans_per_second: 20_000,
            global_span_burst: 20_000,
        }
    }
}

/// Which budget ran out, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    ClientRequests(Duration),
    ClientSpans(Duration),
    GlobalSpans(Duration),
}

impl OverBudget {
    pub fn retry_after(&self) -> Duration {
        match *self {
            OverBudget::ClientRequests(wait)
            | OverBudget::ClientSpans(wait)
            | OverBudget::GlobalSpans(wait) => wait,
        }
    }
}

pub struct Budgets {
    requests: ClientBudget,
    spans: ClientBudget,
    global_spans: DefaultDirectRateLimiter,
}

impl Budgets {
    pub fn new(budgets: &RelayBudgets) -> Self {
        let quota = |per_second: u32, burst: u32| {
            Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        let second = Duration::from_secs(1);
        Budgets {
            requests: ClientBudget::new(
                "relay requests",
                budgets.requests_per_second,
                second,
                budgets.request_burst,
            ),
            spans: ClientBudget::new(
                "relay spans",
                budgets.spans_per_second,
                second,
                budgets.span_burst,
            ),
            global_spans: RateLimiter::direct(quota(
                budgets.global_spans_per_second,
                budgets.global_span_burst,
            )),
        }
    }

    /// Takes one request from `client`'s budget.
    pub fn request(&self, client: IpAddr) -> Result<(), OverBudget> {
        self.requests
            .take(client, 1)
            .map_err(OverBudget::ClientRequests)
    }

    /// Takes `spans` from `client`'s budget and then from everyone's; nothing is taken from
    /// the global budget for a client over its own.
    pub fn spans(&self, client: IpAddr, spans: usize) -> Result<(), OverBudget> {
        let Some(count) = u32::try_from(spans).ok().and_then(NonZeroU32::new) else {
            return Ok(());
        };
        self.spans
            .take(client, count.get())
            .map_err(OverBudget::ClientSpans)?;
        match self.global_spans.check_n(count) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(OverBudget::GlobalSpans(wait(&not_until))),
            Err(_) => Err(OverBudget::GlobalSpans(Duration::from_secs(1))),
        }
    }

    /// Forgets clients whose buckets are full again; the keyed maps are bounded by size too
    /// (`clients::budget::MAX_CLIENTS`).
    pub fn forget_idle_clients(&self) {
        self.requests.forget_idle_clients();
        self.spans.forget_idle_clients();
    }
}

fn wait(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> Duration {
    not_until.wait_time_from(DefaultClock::default().now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets() -> Budgets {
        Budgets::new(&RelayBudgets {
            requests_per_second: 1,
            request_burst: 2,
            spans_per_second: 10,
            span_burst: 100,
            global_spans_per_second: 150,
            global_span_burst: 150,
        })
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn a_client_past_its_request_burst_is_told_when_to_come_back() {
        let budgets = budgets();
        let client = ip("203.0.113.1");
        assert!(budgets.request(client).is_ok());
        assert!(budgets.request(client).is_ok());
        let Err(OverBudget::ClientRequests(wait)) = budgets.request(client) else {
            panic!("the third request is over budget");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            budgets.request(ip("203.0.113.2")).is_ok(),
            "another client has its own budget"
        );
    }

    #[test]
    fn spans_are_counted_per_client_and_for_everyone() {
        let budgets = budgets();
        assert!(budgets.spans(ip("203.0.113.1"), 100).is_ok());
        assert!(matches!(
            budgets.spans(ip("203.0.113.1"), 1),
            Err(OverBudget::ClientSpans(_))
        ));
        assert!(budgets.spans(ip("203.0.113.2"), 50).is_ok());
        assert!(matches!(
            budgets.spans(ip("203.0.113.3"), 10),
            Err(OverBudget::GlobalSpans(_))
        ));
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_budget() {
        let budgets = budgets();
        assert!(budgets.request(ip("2001:db8:0:1::1")).is_ok());
        assert!(budgets.request(ip("2001:db8:0:1::2")).is_ok());
        assert!(budgets.request(ip("2001:db8:0:1:ffff::3")).is_err());
        assert!(budgets.request(ip("2001:db8:0:2::1")).is_ok());
    }

    #[test]
    fn more_spans_than_a_burst_are_refused_with_the_time_they_would_take() {
        let budgets = budgets();
        let Err(OverBudget::ClientSpans(wait)) = budgets.spans(ip("203.0.113.1"), 101) else {
            panic!("more than a burst can never pass");
        };
        assert_eq!(wait, Duration::from_secs(11));
    }
}
