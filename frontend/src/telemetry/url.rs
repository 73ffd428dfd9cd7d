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
    let authority_start = find(address, "://").map_or(0, |scheme_end| scheme_end + 3);
    let authority_end = address[authority_start..]
        .find('/')
        .map_or(address.len(), |end| authority_start + end);
    let mut clean = String::with_capacity(address.len());
    match address[authority_start..authority_end].rfind('@') {
        Some(at) => {
            clean.push_str(&address[..authority_start]);
            clean.push_str(REDACTED);
            clean.push(':');
            clean.push_str(REDACTED);
            clean.push_str(&address[authority_start + at..]);
        }
        None => clean.push_str(address),
    }
    clean
}

fn redacted_pairs(pairs: &str) -> String {
    let mut clean = String::with_capacity(pairs.len());
    for (index, pair) in pairs.split('&').enumerate() {
        if index > 0 {
            clean.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if looks_secret(name) => {
                clean.push_str(name);
                clean.push('=');
                clean.push_str(REDACTED);
            }
            _ => clean.push_str(pair),
        }
    }
    clean
}

fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES
        .iter()
        .any(|secret| find(&name, secret).is_some())
}

/// Where `needle` first is in `haystack`: a plain scan, as the texts searched here are short
/// and the standard library's searcher is large in the bundle.
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
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
