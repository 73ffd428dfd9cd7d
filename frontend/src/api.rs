//! The typed client of the Cruddur API: one function per endpoint, bodies from `shared`.

use gloo_net::http::{Request, Response};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::{Activity, CreateActivity, ErrorBody, ErrorCode};

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

pub async fn configure() {
    let configured = match Request::get("/config.json").send().await {
        Ok(response) if response.ok() => response
            .json::<Config>()
            .await
            .ok()
            .map(|config| config.api_url.trim_end_matches('/').to_owned()),
        _ => None,
    };
    let _ = API_URL.set(configured.unwrap_or_else(same_host_api_url));
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

async fn read<T: DeserializeOwned>(
    response: Result<Response, gloo_net::Error>,
) -> Result<T, ApiError> {
    let response = response.map_err(|_| ApiError::Unreachable)?;
    let status = response.status();
    if (200..300).contains(&status) {
        return response
            .json()
            .await
            .map_err(|_| ApiError::Unexpected(status));
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiError::Rejected(body.errors)),
        Err(_) => Err(ApiError::Unexpected(status)),
    }
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    read(Request::get(&api_url(path)).send().await).await
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let request = Request::post(&api_url(path))
        .json(body)
        .map_err(|_| ApiError::Unexpected(0))?;
    read(request.send().await).await
}

pub async fn home_activities() -> Result<Vec<Activity>, ApiError> {
    get("/api/activities/home").await
}

pub async fn notification_activities() -> Result<Vec<Activity>, ApiError> {
    get("/api/activities/notifications").await
}

pub async fn user_activities(handle: &str) -> Result<Vec<Activity>, ApiError> {
    get(&format!("/api/activities/@{handle}")).await
}

pub async fn create_activity(crud: &CreateActivity) -> Result<Activity, ApiError> {
    post("/api/activities", crud).await
}
