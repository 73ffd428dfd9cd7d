//! What serves this machine only (the dev endpoints, the local trace view) answers only a
//! request that names this machine in its `Host`. Listening on 127.0.0.1 is not enough: DNS
//! rebinding lets a web page's own name resolve to 127.0.0.1, and the browser then sends that
//! page's requests here with the page's name as their `Host`.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;

use crate::error::ApiError;

/// Passes a request whose `Host` is `localhost`, `127.0.0.1` or `[::1]`, with or without a
/// port; anything else, a missing `Host` included, is 403.
pub async fn require_loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    if host.is_some_and(names_this_machine) {
        next.run(request).await
    } else {
        ApiError::Forbidden(ErrorCode::HostNotAllowed).into_response()
    }
}

fn names_this_machine(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]` alone holds colons too: a port follows the closing bracket only.
        Some((name, port))
            if !port.contains(']') && port.bytes().all(|byte| byte.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_names_with_or_without_a_port_pass() {
        for host in [
            "localhost",
            "LocalHost:4567",
            "127.0.0.1",
            "127.0.0.1:4599",
            "[::1]",
            "[::1]:4567",
            "localhost:",
        ] {
            assert!(names_this_machine(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:4567",
            "localhost.evil.example",
            "127.0.0.1.nip.io:4567",
            "127.0.0.2",
            "[::1]evil",
            "::1",
            "0.0.0.0:4567",
            "localhost:4567:80",
            "user@localhost",
        ] {
            assert!(!names_this_machine(host), "{host}");
        }
    }
}
