//! What a URL may say in a span: a query value whose name looks like a secret (`token`, `key`,
//! `pass`, `auth`, `code`, `state`, `session`, `email`, …) and credentials before the host are
//! replaced by `REDACTED`, as OpenTelemetry's HTTP conventions ask of `url.full`. The fragment
//! is treated as a query, as sign-in flows put tokens there too. Free text (an error's message,
//! a stack trace) gets the same treatment for every URL in it.

/// Matched anywhere in a parameter's name, in lower case: `access_token`, `X-Api-Key`,
/// `passwd`, an OAuth `code` and `state`, `sessionid`, `sig`, `user_email`. A harmless name
/// that contains one (`zipcode`) loses its value too, which costs less than a leaked secret.
const SECRET_NAMES: [&str; 14] = [
    "token",
    "key",
    "pass",
    "pwd",
    "auth",
    "secret",
    "sig",
    "credential",
    "code",
    "state",
    "session",
    "email",
    "otp",
    "jwt",
];
const REDACTED: &str = "REDACTED";

/// `text` with every `scheme://…` URL in it redacted. A URL ends at whitespace, a quote or a
/// bracket, as it does in messages and in stack traces (`at f (https://host/app.js:1:2)`).
pub fn redacted_in_text(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(separator) = find(rest, "://") {
        let start = rest[..separator]
            .rfind(|character: char| {
                !(character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.'))
            })
            .map_or(0, |before| before + 1);
        let end = rest[separator..]
            .find(|character: char| {
                character.is_whitespace()
                    || matches!(
                        character,
                        '"' | '\'' | '`' | '(' | ')' | '<' | '>' | '[' | ']'
                    )
            })
            .map_or(rest.len(), |length| separator + length);
        clean.push_str(&rest[..start]);
        clean.push_str(&redacted(&rest[start..end]));
        rest = &rest[end..];
    }
    clean.push_str(rest);
    clean
}

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
            "http://localhost:3000/login?password=REDACTED&Authorization=REDACTED#id_token=REDACTED&state=REDACTED"
        );
        assert_eq!(
            redacted(
                "https://cruddur.example/callback?code=c0de&state=st&email=a%40b.c&sessionid=s&sig=x&passwd=p&q=ok"
            ),
            "https://cruddur.example/callback?code=REDACTED&state=REDACTED&email=REDACTED&sessionid=REDACTED&sig=REDACTED&passwd=REDACTED&q=ok"
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

    #[wasm_bindgen_test]
    fn every_url_in_a_text_is_redacted_and_the_words_around_it_kept() {
        assert_eq!(
            redacted_in_text(
                "GET https://api.example.com/x?access_token=abc&page=2 failed: 401\n    at load (http://localhost:3000/app.js?session=s1:10:5)"
            ),
            "GET https://api.example.com/x?access_token=REDACTED&page=2 failed: 401\n    at load (http://localhost:3000/app.js?session=REDACTED)"
        );
        assert_eq!(
            redacted_in_text("'wss://u:p@host/socket?key=k'"),
            "'wss://REDACTED:REDACTED@host/socket?key=REDACTED'"
        );
        assert_eq!(redacted_in_text("no address here"), "no address here");
        assert_eq!(redacted_in_text("://?token=t"), "://?token=REDACTED");
    }
}
