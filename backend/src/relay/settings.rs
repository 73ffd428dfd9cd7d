//! The relay's settings: the `service.name` it gives the browser's spans, and its budgets.

use super::budget::RelayBudgets;
use crate::environment::{ConfigurationError, Env};

/// The relay for the browser's spans (`POST /v1/traces`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// `CRUDDUR_FRONTEND_SERVICE_NAME` (`cruddur-frontend`): the `service.name` every relayed
    /// span carries, whatever the browser claimed.
    pub frontend_service_name: String,
    /// `CRUDDUR_RELAY_REQUESTS_PER_SECOND` (5) with bursts of `CRUDDUR_RELAY_REQUEST_BURST` (20),
    /// `CRUDDUR_RELAY_SPANS_PER_SECOND` (2,000) with bursts of `CRUDDUR_RELAY_SPAN_BURST`
    /// (10,000), all per client; `CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND` (20,000) with bursts of
    /// `CRUDDUR_RELAY_GLOBAL_SPAN_BURST` (20,000) for everyone.
    pub budgets: RelayBudgets,
}

impl RelaySettings {
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let defaults = RelayBudgets::default();
        let number = |name: &'static str, default: u32| {
            env.positive(name, default as usize)
                .map(|value| u32::try_from(value).unwrap_or(u32::MAX))
        };
        Ok(RelaySettings {
            frontend_service_name: env
                .var("CRUDDUR_FRONTEND_SERVICE_NAME")
                .unwrap_or_else(|| shared::FRONTEND_SERVICE_NAME.to_owned()),
            budgets: RelayBudgets {
                requests_per_second: number(
                    "CRUDDUR_RELAY_REQUESTS_PER_SECOND",
                    defaults.requests_per_second,
                )?,
                request_burst: number("CRUDDUR_RELAY_REQUEST_BURST", defaults.request_burst)?,
                spans_per_second: number(
                    "CRUDDUR_RELAY_SPANS_PER_SECOND",
                    defaults.spans_per_second,
                )?,
                span_burst: number("CRUDDUR_RELAY_SPAN_BURST", defaults.span_burst)?,
                global_spans_per_second: number(
                    "CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND",
                    defaults.global_spans_per_second,
                )?,
                global_span_burst: number(
                    "CRUDDUR_RELAY_GLOBAL_SPAN_BURST",
                    defaults.global_span_burst,
                )?,
            },
        })
    }
}
