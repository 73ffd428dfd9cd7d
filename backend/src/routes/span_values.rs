//! How the routes write what they record on their spans.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `app.now` and the like, as ISO 8601 text the way the seeds record it.
pub(super) fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

/// A result count as a span attribute (OpenTelemetry integers are i64).
pub(super) fn count(length: usize) -> i64 {
    i64::try_from(length).unwrap_or(i64::MAX)
}
