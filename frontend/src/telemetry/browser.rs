//! Who was looking, as Honeycomb's web SDK records it on the resource: the browser's name,
//! version and whether it is a phone's, and the page the session entered by.
//!
//! `navigator.userAgentData` names the browser where there is one (Chromium's), with its major
//! version; elsewhere (Firefox, Safari) the user agent string does.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use wasm_bindgen::JsCast as _;

use super::fields::{field, text};
use super::span;
use super::url::{find, redacted};

pub fn attributes(window: &web_sys::Window) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(6);
    let navigator = window.navigator();
    let user_agent = navigator.user_agent().unwrap_or_default();
    let agent_data = field(&navigator, "userAgentData");
    let brands: Vec<(String, String)> = field(&agent_data, "brands")
        .dyn_into::<js_sys::Array>()
        .map(|brands| {
            brands
                .iter()
                .map(|brand| (text(&brand, "brand"), text(&brand, "version")))
                .collect()
        })
        .unwrap_or_default();
    if let Some((name, version)) =
        browser_of_brands(&brands).or_else(|| browser_of_user_agent(&user_agent))
    {
        attributes.push(span::string("browser.name", name));
        attributes.push(span::string("browser.version", version));
    }
    let mobile = field(&agent_data, "mobile")
        .as_bool()
        .unwrap_or_else(|| find(&user_agent, "Mobi").is_some());
    attributes.push(span::bool("browser.mobile", mobile));
    let location = window.location();
    if let (Ok(url), Ok(path)) = (location.href(), location.pathname()) {
        attributes.push(span::string("entry_page.url", &redacted(&url)));
        attributes.push(span::string("entry_page.path", &path));
    }
    let referrer = window
        .document()
        .map(|document| document.referrer())
        .unwrap_or_default();
    if !referrer.is_empty() {
        attributes.push(span::string("entry_page.referrer", &redacted(&referrer)));
    }
    attributes
}

/// The brand that names the browser: not the engine (`Chromium`) when another is given, and
/// never the made-up one browsers add so that no one matches on the list (`Not_A Brand`).
fn browser_of_brands(brands: &[(String, String)]) -> Option<(&str, &str)> {
    let real = brands
        .iter()
        .filter(|(name, _)| !(find(name, "Not").is_some() && find(name, "Brand").is_some()));
    real.clone()
        .find(|(name, _)| name != "Chromium")
        .or_else(|| real.clone().next())
        .map(|(name, version)| (name.as_str(), version.as_str()))
}

/// The browser a user agent string names, by the token each puts there, most specific first.
fn browser_of_user_agent(user_agent: &str) -> Option<(&'static str, &str)> {
    [
        ("Edg/", "Microsoft Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ]
    .into_iter()
    .find_map(|(token, name)| {
        let after = &user_agent[find(user_agent, token)? + token.len()..];
        let version = after.split(' ').next().unwrap_or_default();
        Some((name, version))
    })
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn brands(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, version)| ((*name).to_owned(), (*version).to_owned()))
            .collect()
    }

    #[wasm_bindgen_test]
    fn the_browser_is_the_brand_that_is_neither_the_engine_nor_made_up() {
        let chrome = brands(&[
            ("Not_A Brand", "8"),
            ("Chromium", "120"),
            ("Google Chrome", "120"),
        ]);
        assert_eq!(browser_of_brands(&chrome), Some(("Google Chrome", "120")));
        let chromium = brands(&[("Chromium", "131"), ("Not/A)Brand", "24")]);
        assert_eq!(browser_of_brands(&chromium), Some(("Chromium", "131")));
        assert_eq!(browser_of_brands(&[]), None);
    }

    #[wasm_bindgen_test]
    fn without_brands_the_user_agent_names_the_browser() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(browser_of_user_agent(firefox), Some(("Firefox", "128.0")));
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_of_user_agent(safari), Some(("Safari", "17.1")));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        assert_eq!(
            browser_of_user_agent(edge),
            Some(("Microsoft Edge", "120.0.2210.91"))
        );
        assert_eq!(browser_of_user_agent("curl/8.5"), None);
    }
}
