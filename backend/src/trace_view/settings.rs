//! The trace view's settings: whether it is on, its store's limits, and its links to Honeycomb.

use super::store::StoreLimits;
use crate::environment::{ConfigurationError, Env, positive, switch};

/// The local trace view's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTracesSettings {
    /// `CRUDDUR_LOCAL_TRACES` (off), a switch: the view shows every user's
    /// requests (search terms, addresses, user agents) to anyone who can reach the port.
    pub enabled: bool,
    /// `CRUDDUR_LOCAL_TRACES_MAX_TRACES` (500), `CRUDDUR_LOCAL_TRACES_MAX_MB` (64) and
    /// `CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE` (5,000).
    pub limits: StoreLimits,
    /// `HONEYCOMB_TRACE_URL`: a trace's address in Honeycomb with `{trace_id}` in it (the team
    /// and environment are in the address, and an API key does not tell them), for the view's
    /// link, e.g. `https://ui.honeycomb.io/TEAM/environments/ENV/trace?trace_id={trace_id}`.
    pub honeycomb_trace_url: Option<String>,
    /// `HONEYCOMB_API_ENDPOINT`: where Honeycomb's API is asked for the team and environment the
    /// key belongs to, when the OTLP endpoint is not Honeycomb's own (a proxy, a test's stand-in).
    pub honeycomb_api_endpoint: Option<String>,
}

impl LocalTracesSettings {
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let defaults = StoreLimits::default();
        Ok(LocalTracesSettings {
            enabled: local_traces_enabled(env.var("CRUDDUR_LOCAL_TRACES"))?,
            limits: StoreLimits {
                max_traces: env.positive("CRUDDUR_LOCAL_TRACES_MAX_TRACES", defaults.max_traces)?,
                max_bytes: local_traces_max_mb(env.var("CRUDDUR_LOCAL_TRACES_MAX_MB"))? * MEBIBYTE,
                max_spans_per_trace: env.positive(
                    "CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE",
                    defaults.max_spans_per_trace,
                )?,
            },
            honeycomb_trace_url: env
                .var("HONEYCOMB_TRACE_URL")
                .filter(|template| template.contains("{trace_id}")),
            honeycomb_api_endpoint: env.var("HONEYCOMB_API_ENDPOINT"),
        })
    }
}

const MEBIBYTE: usize = 1024 * 1024;
/// The most `CRUDDUR_LOCAL_TRACES_MAX_MB` may say: far more than a development view needs, and
/// small enough that its bytes are a number on every platform.
const LOCAL_TRACES_MAX_MB_CAP: usize = 4096;

fn local_traces_max_mb(value: Option<String>) -> Result<usize, ConfigurationError> {
    let name = "CRUDDUR_LOCAL_TRACES_MAX_MB";
    let mb = positive(
        name,
        value.clone(),
        StoreLimits::default().max_bytes / MEBIBYTE,
    )?;
    if mb > LOCAL_TRACES_MAX_MB_CAP {
        return Err(ConfigurationError::Invalid {
            name,
            expected: "a whole number of megabytes from 1 to 4096",
            value: value.unwrap_or_default(),
        });
    }
    Ok(mb)
}

fn local_traces_enabled(value: Option<String>) -> Result<bool, ConfigurationError> {
    switch("CRUDDUR_LOCAL_TRACES", value, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_traces_are_off_unless_switched_on() {
        assert!(!local_traces_enabled(None).unwrap());
        assert!(!local_traces_enabled(Some("OFF".into())).unwrap());
        assert!(local_traces_enabled(Some(" on ".into())).unwrap());
        assert!(local_traces_enabled(Some("maybe".into())).is_err());
    }
}
