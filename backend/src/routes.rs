//! The Cruddur API, one module per feature.

pub mod activities;
pub mod dev;
pub mod health;
pub mod messages;
mod page_params;
mod span_values;

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::NotFound(shared::ErrorCode::NotFound)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
