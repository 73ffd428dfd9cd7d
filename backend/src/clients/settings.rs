//! The client settings: who a request comes from behind trusted proxies, and the API's budgets.

use super::address::{ForwardedHeader, TrustedProxies};
use crate::environment::{ConfigurationError, Env};

const DEFAULT_WRITE_BUDGET: usize = 30;
/// A person reading reads a few pages a minute, each a handful of requests.
const DEFAULT_READ_BUDGET: usize = 600;
/// A person searching types a few terms a minute.
const DEFAULT_SEARCH_BUDGET: usize = 30;

/// `CRUDDUR_TRUSTED_PROXIES`, read through the header `CRUDDUR_FORWARDED_HEADER` names.
pub fn trusted_proxies(env: &Env) -> Result<TrustedProxies, ConfigurationError> {
    Ok(
        TrustedProxies::parse(&env.var("CRUDDUR_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|_| ConfigurationError::Invalid {
                name: "CRUDDUR_TRUSTED_PROXIES",
                expected: "a comma-separated list of CIDRs or IP addresses",
                value: env.var("CRUDDUR_TRUSTED_PROXIES").unwrap_or_default(),
            })?
            .reading(forwarded_header_from(env.var("CRUDDUR_FORWARDED_HEADER"))?),
    )
}

/// `CRUDDUR_WRITE_BUDGET`: POST requests per client a minute.
pub fn write_budget(env: &Env) -> Result<u32, ConfigurationError> {
    per_minute(env, "CRUDDUR_WRITE_BUDGET", DEFAULT_WRITE_BUDGET)
}

/// `CRUDDUR_READ_BUDGET`: GET requests per client a minute.
pub fn read_budget(env: &Env) -> Result<u32, ConfigurationError> {
    per_minute(env, "CRUDDUR_READ_BUDGET", DEFAULT_READ_BUDGET)
}

/// `CRUDDUR_SEARCH_BUDGET`: searches per client a minute.
pub fn search_budget(env: &Env) -> Result<u32, ConfigurationError> {
    per_minute(env, "CRUDDUR_SEARCH_BUDGET", DEFAULT_SEARCH_BUDGET)
}

/// A client's budget a minute from the variable `name`: a positive count, `default` if unset.
fn per_minute(env: &Env, name: &'static str, default: usize) -> Result<u32, ConfigurationError> {
    Ok(u32::try_from(env.positive(name, default)?).unwrap_or(u32::MAX))
}

fn forwarded_header_from(value: Option<String>) -> Result<ForwardedHeader, ConfigurationError> {
    match value {
        None => Ok(ForwardedHeader::default()),
        Some(value) => ForwardedHeader::parse(&value).ok_or(ConfigurationError::Invalid {
            name: "CRUDDUR_FORWARDED_HEADER",
            expected: ForwardedHeader::ACCEPTED,
            value,
        }),
    }
}
