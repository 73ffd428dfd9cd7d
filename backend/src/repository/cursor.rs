//! Keyset pagination: a page ends at an item, and the next page starts strictly after it in
//! the list's order, so pages stay right while new items arrive and cost the same however deep.

use std::fmt;
use std::str::FromStr;

use shared::PAGE_SIZE;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a page ended: its last item's time (microseconds since the epoch, as stored) and uuid,
/// which breaks ties between items of the same microsecond. Written `{micros}_{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub micros: i64,
    pub uuid: Uuid,
}

impl Cursor {
    /// Before every item: the start of a list.
    pub(super) const START: (i64, &'static str) = (i64::MAX, "");
}

impl fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}_{}", self.micros, self.uuid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a cursor is {{micros}}_{{uuid}}, as a page's `next` gives it")]
pub struct InvalidCursor;

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (micros, uuid) = text.split_once('_').ok_or(InvalidCursor)?;
        Ok(Cursor {
            micros: micros.parse().map_err(|_| InvalidCursor)?,
            uuid: Uuid::parse_str(uuid).map_err(|_| InvalidCursor)?,
        })
    }
}

/// Which page of a list: the one after `before` (the first when None), of at most `limit` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub before: Option<Cursor>,
    limit: usize,
}

impl PageRequest {
    pub fn first() -> Self {
        PageRequest {
            before: None,
            limit: PAGE_SIZE,
        }
    }

    /// `limit` is held to 1..=PAGE_SIZE.
    pub fn new(before: Option<Cursor>, limit: Option<usize>) -> Self {
        PageRequest {
            before,
            limit: limit.unwrap_or(PAGE_SIZE).clamp(1, PAGE_SIZE),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Stored time: microseconds since the Unix epoch, what both databases hold exactly.
pub(super) fn micros(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

pub(super) fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself() {
        let cursor = Cursor {
            micros: 1_764_489_600_123_456,
            uuid: Uuid::from_u128(42),
        };
        assert_eq!(cursor.to_string().parse::<Cursor>(), Ok(cursor));
        for bad in [
            "",
            "12",
            "x_00000000-0000-0000-0000-00000000002a",
            "12_nope",
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(InvalidCursor), "{bad}");
        }
    }

    #[test]
    fn a_page_holds_between_one_and_fifty_items() {
        assert_eq!(PageRequest::new(None, Some(0)).limit(), 1);
        assert_eq!(PageRequest::new(None, Some(1000)).limit(), PAGE_SIZE);
        assert_eq!(PageRequest::new(None, None).limit(), PAGE_SIZE);
    }

    #[test]
    fn stored_times_keep_their_microseconds() {
        let time = OffsetDateTime::from_unix_timestamp_nanos(1_764_489_600_123_456_000).unwrap();
        assert_eq!(from_micros(micros(time)), time);
    }
}
