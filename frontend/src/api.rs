//! The typed client of the Cruddur API: one function per endpoint, bodies from `shared`.

use std::sync::OnceLock;

use crate::http::{self, Answer, Unanswered};
use crate::json;
use crate::telemetry::fetch;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::traces::{TraceDetail, TraceFilter, TraceSummary};
use shared::{
    Activity, CreateActivity, CreateMessage, CreateReply, ErrorBody, ErrorCode, Message,
    MessageGroup, Page, Reply,
};

/// Why a call failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The API answered with its machine-readable codes.
    Rejected(Vec<ErrorCode>),
    /// The API could not be reached.
    Unreachable,
    /// An answer the API never gives.
    Unexpected(u16),
}

impl ApiError {
    pub fn describe(&self) -> String {
        match self {
            ApiError::Rejected(codes) => codes
                .iter()
                .map(|code| code.describe())
                .collect::<Vec<_>>()
                .join(" "),
            ApiError::Unreachable => {
                "Cruddur's API cannot be reached. Is the backend running?".into()
            }
            ApiError::Unexpected(status) => format!("The API answered {status} unexpectedly."),
        }
    }
}

/// Where the API is, read once before the app mounts: `/config.json` served beside the app
/// (`{"api_url": "https://api.example.com"}`) so a deployment changes it without rebuilding;
/// without one, port 4567 on the host that served this page, so `:3000` → `:4567` works on a
/// laptop and in compose alike.
static API_URL: OnceLock<String> = OnceLock::new();

#[derive(Deserialize)]
struct Config {
    api_url: String,
}

/// Reads `/config.json` and returns the API's base URL. Not traced: tracing needs the answer.
pub async fn configure() -> &'static str {
    let configured = read_config().await;
    API_URL.get_or_init(|| configured.unwrap_or_else(same_host_api_url))
}

async fn read_config() -> Option<String> {
    let Answer { status, body } = http::send("GET", "/config.json", &[], None).await.ok()?;
    if !(200..300).contains(&status) {
        return None;
    }
    let config: Config = from_json(&body).ok()?;
    Some(config.api_url.trim_end_matches('/').to_owned())
}

fn same_host_api_url() -> String {
    let location = web_sys::window().map(|window| window.location());
    let protocol = location
        .as_ref()
        .and_then(|location| location.protocol().ok())
        .unwrap_or_else(|| "http:".into());
    let host = location
        .and_then(|location| location.hostname().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{protocol}//{host}:4567")
}

fn api_url(path: &str) -> String {
    let base = API_URL.get_or_init(same_host_api_url);
    format!("{base}{path}")
}

fn read<T>(
    answer: Result<Answer, Unanswered>,
    decode: fn(&str) -> Result<T, ()>,
) -> Result<T, ApiError> {
    let Answer { status, body } = answer.map_err(|Unanswered| ApiError::Unreachable)?;
    if (200..300).contains(&status) {
        return decode(&body).map_err(|()| ApiError::Unexpected(status));
    }
    match from_json::<ErrorBody>(&body) {
        Ok(body) => Err(ApiError::Rejected(body.errors)),
        Err(_) => Err(ApiError::Unexpected(status)),
    }
}

// JSON through the browser's own `JSON`, with serde only mapping values: serde_json would bring
// its own parser and number formatting into the bundle for what the browser already has.

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, ()> {
    let value = js_sys::JSON::parse(text).map_err(drop)?;
    json::from_value(value).map_err(drop)
}

/// A page: its `items` decoded as a list, its `next` read as the string it is, so no page type
/// needs serde code of its own.
fn page_from_json<T: DeserializeOwned>(text: &str) -> Result<Page<T>, ()> {
    let value = js_sys::JSON::parse(text).map_err(drop)?;
    let field = |name: &str| js_sys::Reflect::get(&value, &name.into()).map_err(drop);
    Ok(Page {
        items: json::from_value(field("items")?).map_err(drop)?,
        next: field("next")?.as_string(),
    })
}

fn to_json<T: Serialize>(value: &T) -> Option<String> {
    let value = serde_wasm_bindgen::to_value(value).ok()?;
    js_sys::JSON::stringify(&value).ok()?.as_string()
}

// Calls start when these are called, not when awaited: so they belong to the user action that
// made them (see `telemetry::fetch`).

fn get<T: DeserializeOwned>(path: &str) -> impl Future<Output = Result<T, ApiError>> + use<T> {
    decoded(fetch::traced("GET", api_url(path), None), from_json)
}

fn get_page<T: DeserializeOwned>(path: &str) -> impl Future<Output = Paged<T>> + use<T> {
    decoded(fetch::traced("GET", api_url(path), None), page_from_json)
}

/// For the trace view: not traced, or watching traces would make traces.
fn get_untraced<T: DeserializeOwned>(
    path: &str,
) -> impl Future<Output = Result<T, ApiError>> + use<T> {
    let url = api_url(path);
    decoded(
        async move { http::send("GET", &url, &[], None).await },
        from_json,
    )
}

fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> impl Future<Output = Result<T, ApiError>> + use<B, T> {
    let call = to_json(body)
        .map(|json| decoded(fetch::traced("POST", api_url(path), Some(json)), from_json));
    async move {
        match call {
            Some(call) => call.await,
            None => Err(ApiError::Unexpected(0)),
        }
    }
}

/// A route parameter as one segment of an API path, percent-encoded by the browser's own
/// `encodeURIComponent`, so `/`, `?`, `#` and `%` stay inside it: `/@..%2F..%2Ftraces` asks for
/// a user's feed, never another endpoint. A parameter is never `.` or `..` (which no encoding
/// keeps from being resolved): the browser removes such segments from the address, encoded or
/// not, before the router reads it.
fn segment(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

/// The answer of a call already started, read as `T` or as the API's error.
async fn decoded<T>(
    call: impl Future<Output = Result<Answer, Unanswered>>,
    decode: fn(&str) -> Result<T, ()>,
) -> Result<T, ApiError> {
    read(call.await, decode)
}

/// `path` asking for the page after `before` (a page's `next`), or for the first page.
fn paged(path: &str, before: Option<&str>) -> String {
    match before {
        Some(cursor) => {
            let separator = if path.contains('?') { '&' } else { '?' };
            let cursor = js_sys::encode_uri_component(cursor);
            format!("{path}{separator}before={cursor}")
        }
        None => path.to_owned(),
    }
}

type Paged<T> = Result<Page<T>, ApiError>;

pub fn home_activities(before: Option<&str>) -> impl Future<Output = Paged<Activity>> + use<> {
    get_page(&paged("/api/activities/home", before))
}

pub fn notification_activities(
    before: Option<&str>,
) -> impl Future<Output = Paged<Activity>> + use<> {
    get_page(&paged("/api/activities/notifications", before))
}

pub fn user_activities(
    handle: &str,
    before: Option<&str>,
) -> impl Future<Output = Paged<Activity>> + use<> {
    get_page(&paged(
        &format!("/api/activities/@{}", segment(handle)),
        before,
    ))
}

pub fn create_activity(
    crud: &CreateActivity,
) -> impl Future<Output = Result<Activity, ApiError>> + use<> {
    post("/api/activities", crud)
}

pub fn search_activities(
    term: &str,
    before: Option<&str>,
) -> impl Future<Output = Paged<Activity>> + use<> {
    let term = js_sys::encode_uri_component(term);
    get_page(&paged(
        &format!("/api/activities/search?term={term}"),
        before,
    ))
}

pub fn activity(uuid: &str) -> impl Future<Output = Result<Activity, ApiError>> + use<> {
    get(&format!("/api/activities/{}", segment(uuid)))
}

pub fn reply(
    activity_uuid: &str,
    reply: &CreateReply,
) -> impl Future<Output = Result<Reply, ApiError>> + use<> {
    post(
        &format!("/api/activities/{}/reply", segment(activity_uuid)),
        reply,
    )
}

pub fn message_groups(before: Option<&str>) -> impl Future<Output = Paged<MessageGroup>> + use<> {
    get_page(&paged("/api/message_groups", before))
}

pub fn conversation(
    handle: &str,
    before: Option<&str>,
) -> impl Future<Output = Paged<Message>> + use<> {
    get_page(&paged(
        &format!("/api/messages/@{}", segment(handle)),
        before,
    ))
}

pub fn send_message(
    message: &CreateMessage,
) -> impl Future<Output = Result<Message, ApiError>> + use<> {
    post("/api/messages", message)
}

pub fn traces(
    filter: &TraceFilter,
) -> impl Future<Output = Result<Vec<TraceSummary>, ApiError>> + use<> {
    let mut query = Vec::new();
    if let Some(service) = &filter.service {
        query.push(format!("service={}", js_sys::encode_uri_component(service)));
    }
    if filter.errors {
        query.push("errors=true".to_owned());
    }
    if let Some(min) = filter.min_duration_ms {
        query.push(format!("min_duration_ms={min}"));
    }
    get_untraced(&format!("/api/traces?{}", query.join("&")))
}

pub fn trace(trace_id: &str) -> impl Future<Output = Result<TraceDetail, ApiError>> + use<> {
    get_untraced(&format!("/api/traces/{}", segment(trace_id)))
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::router::Route;
    use js_sys::Reflect;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The path the browser asks for once it resolves `url`.
    fn requested_path(url: &str) -> String {
        web_sys::Url::new_with_base(url, "http://localhost:4567")
            .unwrap()
            .pathname()
    }

    #[wasm_bindgen_test]
    fn a_route_parameter_stays_one_segment_of_the_api_path() {
        let Route::User { handle } = Route::of("/@..%2F..%2F..%2Ftraces") else {
            panic!("a user's address");
        };
        assert_eq!(handle, "../../../traces");
        let feed = format!("/api/activities/@{}", segment(&handle));
        assert_eq!(
            requested_path(&feed),
            "/api/activities/@..%2F..%2F..%2Ftraces"
        );
        let activity = format!(
            "/api/activities/{}",
            segment("x/../../../traces?term=1#top")
        );
        assert_eq!(
            requested_path(&activity),
            "/api/activities/x%2F..%2F..%2F..%2Ftraces%3Fterm%3D1%23top"
        );
    }

    #[wasm_bindgen_test]
    async fn a_handle_with_slashes_asks_the_feeds_endpoint_and_no_other() {
        let window = web_sys::window().unwrap();
        let fetch = Reflect::get(&window, &"fetch".into()).unwrap();
        // Records the address asked for and answers as a network that is down.
        let recording = js_sys::Function::new_with_args(
            "url",
            "globalThis.requestedUrl = url; return Promise.reject(new TypeError('offline'))",
        );
        Reflect::set(&window, &"fetch".into(), &recording).unwrap();
        let answer = user_activities("../../../traces", None).await;
        Reflect::set(&window, &"fetch".into(), &fetch).unwrap();

        assert!(matches!(answer, Err(ApiError::Unreachable)), "{answer:?}");
        let requested = Reflect::get(&window, &"requestedUrl".into())
            .unwrap()
            .as_string()
            .unwrap();
        assert_eq!(
            requested_path(&requested),
            "/api/activities/@..%2F..%2F..%2Ftraces"
        );
    }
}
