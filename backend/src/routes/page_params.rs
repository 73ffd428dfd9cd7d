//! The page every list takes: `?before=` and `?limit=`.

use serde::Deserialize;
use shared::ErrorCode;

use crate::error::ApiError;
use crate::repository::{Cursor, PageRequest};

/// `?before=` (a page's `next`) and `?limit=` (at most `shared::PAGE_SIZE`), on every list.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub(super) before: Option<String>,
    pub(super) limit: Option<usize>,
}

impl PageParams {
    pub(super) fn request(&self) -> Result<PageRequest, ApiError> {
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
