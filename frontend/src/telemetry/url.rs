//! What a URL may say in a span: a query value whose name looks like a secret (`token`, `key`,
//! `password`, `auth`, …) and credentials before the host are replaced by `REDACTED`, as
//! OpenTelemetry's HTTP conventions ask of `url.full`. The fragment is treated as a query, as
//! sign-in flows put tokens there too.

const SECRET_NAMES: [&str; 6] = ["token", "key", "password", "auth", "secret", "signature"];
const REDACTED: &str = "REDACTED";

pub fn redacted(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let (address, query) = match before_fragment.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (before_fragment, None),
    };
    let mut clean = without_credentials(address);
    for (separator, pairs) in [('?', query), ('#', fragment)] {
        if let Some(pairs) = pairs {
            clean.push(separator);
            clean.push_str(&redacted_pairs(pairs));
        }
    }
    clean
}

/// `https://user:pass@host/` without the user and password.
fn without_credentials(address: &str) -> String {
    let authority_start = address.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let authority_end = address[authority_start..]
        .find('/')
        .map_or(address.len(), |end| authority_start + end);
    match address[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{REDACTED}:{REDACTED}{}",
            &address[..authority_start],
            &address[authority_start + at..]
        ),
        None => address.to_owned(),
    }
}

fn redacted_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if looks_secret(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|secret| name.contains(secret))
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn query_values_named_like_secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redacted(
                "https://api.example.com/api/activities/search?term=cloud&access_token=abc&API_KEY=k&page=2"
            ),
            "https://api.example.com/api/activities/search?term=cloud&access_token=REDACTED&API_KEY=REDACTED&page=2"
        );
        assert_eq!(
            redacted(
                "http://localhost:3000/login?password=hunter2&Authorization=Bearer%20x#id_token=t&state=s"
            ),
            "http://localhost:3000/login?password=REDACTED&Authorization=REDACTED#id_token=REDACTED&state=s"
        );
        assert_eq!(
            redacted("http://localhost:3000/@andrewbrown#top"),
            "http://localhost:3000/@andrewbrown#top"
        );
    }

    #[wasm_bindgen_test]
    fn credentials_before_the_host_are_redacted() {
        assert_eq!(
            redacted("https://user:pass@example.com/path?q=1"),
            "https://REDACTED:REDACTED@example.com/path?q=1"
        );
        assert_eq!(
            redacted("https://example.com/@andrewbrown"),
            "https://example.com/@andrewbrown"
        );
    }
}
