//! The browser's `fetch`, as every request of the app makes it: the API calls (through
//! `telemetry::fetch`, which traces them), the configuration read before start, and the span
//! export. What traces a call lives in telemetry; this module only sends and reads.

use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::RequestInit;

/// The answer to a call: its status and body, whatever the status.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The call never got an answer: the network, CORS, or a server that is not there.
pub struct Unanswered;

/// Sends a request and reads its whole answer as text.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<JsValue>,
) -> Result<Answer, Unanswered> {
    let window = web_sys::window().ok_or(Unanswered)?;
    let init = request(method, headers, body.as_ref());
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| Unanswered)?
        .dyn_into::<web_sys::Response>()
        .map_err(|_| Unanswered)?;
    let text = response.text().map_err(|_| Unanswered)?;
    let body = JsFuture::from(text).await.map_err(|_| Unanswered)?;
    Ok(Answer {
        status: response.status(),
        body: body.as_string().unwrap_or_default(),
    })
}

/// Starts a POST whose answer nobody reads: it is sent before this returns, and with
/// `keepalive` it outlives a page being closed. A failure troubles nobody.
pub fn post_and_forget(url: &str, content_type: &str, body: &[u8], keepalive: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let init = request(
        "POST",
        &[("content-type", content_type)],
        Some(&js_sys::Uint8Array::from(body)),
    );
    // web-sys has no setter for `keepalive`.
    let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::from_bool(keepalive));
    let sent = window.fetch_with_str_and_init(url, &init);
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(sent).await;
    });
}

/// A `fetch` call's options: its method, headers, and body if it has one.
fn request(method: &str, headers: &[(&str, &str)], body: Option<&JsValue>) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    let header_object = js_sys::Object::new();
    for (name, value) in headers {
        let _ = js_sys::Reflect::set(&header_object, &(*name).into(), &(*value).into());
    }
    init.set_headers(&header_object);
    if let Some(body) = body {
        init.set_body(body);
    }
    init
}
