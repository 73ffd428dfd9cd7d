//! What the backend shows of a secret-bearing value in logs, spans and error messages: a
//! [`Secret`] shows nothing, a URL only what cannot carry a secret. A leaf: settings, errors,
//! logs and spans all redact here.
//!
//! A URL is shown as its scheme, host, port and path only. Every other part can carry a
//! secret: the user and password, the query (sqlx reads `?password=` and `?sslpassword=`,
//! collectors `?api_key=`), and the fragment. Naming the secret parameters instead would miss
//! the next one, so nothing past the path is ever shown.

use url::Url;

/// `url` as logs, spans and X-Ray may show it: scheme, host, port and path.
pub fn url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials, which then have none to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// `text` shown as [`url`] when it parses as a URL; anything else is not shown at all, since
/// it may be a secret pasted in the wrong place.
pub fn url_text(text: &str) -> String {
    Url::parse(text.trim()).map_or_else(|_| "(not a URL)".to_owned(), |parsed| url(&parsed))
}

/// A value that is never shown: `Debug` prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_shows_only_its_scheme_host_port_and_path() {
        for (secret_bearing, shown) in [
            (
                "postgres://cruddur:s3cret@db:5432/cruddur",
                "postgres://db:5432/cruddur",
            ),
            ("postgres://s3cret@db/cruddur", "postgres://db/cruddur"),
            (
                "postgres://cruddur@db/cruddur?password=s3cret",
                "postgres://db/cruddur",
            ),
            (
                "postgresql://db/cruddur?sslmode=verify-full&sslpassword=s3cret",
                "postgresql://db/cruddur",
            ),
            (
                "https://collector.example:4318/v1/traces?api_key=s3cret",
                "https://collector.example:4318/v1/traces",
            ),
            (
                "https://collector.example/v1/traces#s3cret",
                "https://collector.example/v1/traces",
            ),
            (
                "https://user:s3cret@[::1]:8443/v1/traces?a=1&token=s3cret#s3cret",
                "https://[::1]:8443/v1/traces",
            ),
            (
                "sqlite:///var/lib/cruddur/cruddur.db?mode=rwc&vfs=s3cret",
                "sqlite:///var/lib/cruddur/cruddur.db",
            ),
        ] {
            assert_eq!(url_text(secret_bearing), shown, "{secret_bearing}");
            assert_eq!(
                url(&Url::parse(secret_bearing).unwrap()),
                shown,
                "{secret_bearing}"
            );
        }
    }

    #[test]
    fn text_that_is_not_a_url_is_not_shown() {
        assert_eq!(url_text("s3cret"), "(not a URL)");
        assert_eq!(url_text(""), "(not a URL)");
    }
}
