//! The Cruddur API, one module per feature.

pub mod activities;
pub mod dev;
pub mod health;
pub mod messages;

use serde::Deserialize;
use shared::ErrorCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::repository::{Cursor, PageRequest};

/// `?before=` (a page's `next`) and `?limit=` (at most `shared::PAGE_SIZE`), on every list.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    before: Option<String>,
    limit: Option<usize>,
}

impl PageParams {
    fn request(&self) -> Result<PageRequest, ApiError> {
        let before = match self.before.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(cursor) => Some(
                cursor
                    .parse::<Cursor>()
                    .map_err(|_| ApiError::BadRequest(ErrorCode::InvalidQuery))?,
            ),
        };
        Ok(PageRequest::new(before, self.limit))
    }
}

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
