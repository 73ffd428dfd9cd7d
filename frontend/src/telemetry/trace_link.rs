//! Where a trace can be seen in Honeycomb: the backend learns the link's template from
//! Honeycomb (or `HONEYCOMB_TRACE_URL`) and serves it, and only it, at `/api/trace-link`; the
//! key stays on the server. Asked once, untraced, when tracing starts; until it has answered,
//! and when spans do not go to Honeycomb, traces have no link.

use std::cell::RefCell;

use super::url::find;
use crate::http::{self, Answer};

thread_local! {
    static TEMPLATE: RefCell<Option<String>> = const { RefCell::new(None) };
}

const TRACE_ID: &str = "{trace_id}";

/// Asks `api_url` for the template, in the background.
pub fn load(api_url: &str) {
    let url = [api_url, "/api/trace-link"].concat();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(Answer { status: 200, body }) = http::send("GET", &url, &[], None).await else {
            return;
        };
        let template = js_sys::JSON::parse(&body)
            .ok()
            .and_then(|answer| js_sys::Reflect::get(&answer, &"template".into()).ok())
            .and_then(|template| template.as_string())
            .filter(|template| is_trace_link(template));
        TEMPLATE.set(template);
    });
}

/// The trace's page in Honeycomb, once the template is known.
pub fn for_trace(trace_id: &str) -> Option<String> {
    TEMPLATE.with_borrow(|template| {
        let template = template.as_deref()?;
        let at = find(template, TRACE_ID)?;
        Some([&template[..at], trace_id, &template[at + TRACE_ID.len()..]].concat())
    })
}

/// Only a web address with a place for the trace id becomes a link.
fn is_trace_link(template: &str) -> bool {
    (template.starts_with("https://") || template.starts_with("http://"))
        && find(template, TRACE_ID).is_some()
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_template_is_a_web_address_with_a_place_for_the_trace_id() {
        assert!(is_trace_link(
            "https://ui.honeycomb.io/cruddur/environments/dev/trace?trace_id={trace_id}"
        ));
        assert!(!is_trace_link("javascript:alert(1)//{trace_id}"));
        assert!(!is_trace_link("https://ui.honeycomb.io/cruddur"));
        TEMPLATE.set(Some(
            "https://ui.eu1.honeycomb.io/t/environments/e/trace?trace_id={trace_id}".into(),
        ));
        assert_eq!(
            for_trace("654f2a01abcdef001122334455667788").as_deref(),
            Some(
                "https://ui.eu1.honeycomb.io/t/environments/e/trace?trace_id=654f2a01abcdef001122334455667788"
            )
        );
    }
}
