//! Rows read a page at a time: keyset bounds in, a page and its `next` cursor out.

use uuid::Uuid;

use super::super::cursor::{Cursor, PageRequest};
use super::super::{RepositoryError, RepositoryResult};

pub(super) fn parse_uuid(text: &str) -> RepositoryResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| RepositoryError::Failed(format!("a stored uuid is {text:?}")))
}

pub(super) fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A row in keyset order: its time and uuid are where a page ending at it continues.
pub(super) trait KeysetRow {
    fn key(&self) -> (i64, &str);

    fn cursor(&self) -> RepositoryResult<Cursor> {
        let (micros, uuid) = self.key();
        Ok(Cursor {
            micros,
            uuid: parse_uuid(uuid)?,
        })
    }
}

/// A page from rows fetched one past the limit: the extra row only says there is more.
pub(super) fn page<R: KeysetRow>(
    mut rows: Vec<R>,
    request: PageRequest,
) -> RepositoryResult<(Vec<R>, Option<String>)> {
    let more = rows.len() > request.limit();
    rows.truncate(request.limit());
    let next = match rows.last() {
        Some(last) if more => Some(last.cursor()?.to_string()),
        _ => None,
    };
    Ok((rows, next))
}

/// A page fetched newest first, in the order it is read: oldest first.
pub(super) fn oldest_first<R, T>(
    rows: Vec<R>,
    convert: impl Fn(R) -> RepositoryResult<T>,
) -> RepositoryResult<Vec<T>> {
    rows.into_iter().rev().map(convert).collect()
}

/// The keyset bounds of a page request: after its cursor, or from the start.
pub(super) fn bounds(request: PageRequest) -> (i64, String) {
    match request.before {
        Some(cursor) => (cursor.micros, cursor.uuid.to_string()),
        None => (Cursor::START.0, Cursor::START.1.to_owned()),
    }
}

/// One past the page, to learn whether another follows.
pub(super) fn fetch_limit(request: PageRequest) -> i64 {
    i64::try_from(request.limit() + 1).unwrap_or(i64::MAX)
}
