//! `backend health-check`: asks the running server's `/api/health` and exits 0 when it answers
//! 2xx. Container images run it as their `HEALTHCHECK`, since a minimal image has no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::configuration::Settings;

/// The whole check, connection included, ends within this; Docker's own timeout is longer.
const DEADLINE: Duration = Duration::from_secs(2);

/// The argument that selects this mode.
pub const COMMAND: &str = "health-check";

/// Where the server listening as `settings` says answers from inside its own host.
pub fn health_url(settings: &Settings) -> String {
    let host = match settings.bind {
        IpAddr::V4(address) if address.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(address) if address.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        address => address,
    };
    let host = match host {
        IpAddr::V4(address) => address.to_string(),
        IpAddr::V6(address) => format!("[{address}]"),
    };
    format!("http://{host}:{}/api/health", settings.port)
}

/// Ok when the server answers its health check with a success status.
pub async fn check(settings: &Settings) -> Result<(), String> {
    let url = health_url(settings);
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .no_proxy()
        .build()
        .map_err(|error| error.to_string())?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    match response.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("{url} answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &'static [(&'static str, &'static str)]) -> Settings {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn a_server_on_every_interface_is_checked_on_loopback() {
        assert_eq!(
            health_url(&settings(&[])),
            "http://127.0.0.1:4567/api/health"
        );
        assert_eq!(
            health_url(&settings(&[("CRUDDUR_BIND", "::"), ("PORT", "8080")])),
            "http://[::1]:8080/api/health"
        );
    }

    #[test]
    fn a_server_on_one_address_is_checked_there() {
        assert_eq!(
            health_url(&settings(&[("CRUDDUR_BIND", "10.0.0.7")])),
            "http://10.0.0.7:4567/api/health"
        );
    }
}
