//! The Cruddur API, one module per feature.

pub mod activities;
pub mod dev;
pub mod health;
pub mod messages;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;

/// `app.now` and the like, as ISO 8601 text the way the seeds record it.
fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

/// A result count as a span attribute (OpenTelemetry integers are i64).
fn count(items: &[impl Sized]) -> i64 {
    i64::try_from(items.len()).unwrap_or(i64::MAX)
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound(shared::ErrorCode::NotFound)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
