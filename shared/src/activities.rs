use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{ErrorCode, check_message, is_blank};

/// Longest crud, in characters.
pub const ACTIVITY_MAX_CHARS: usize = 280;
/// Longest reply, in characters.
pub const REPLY_MAX_CHARS: usize = 1024;

/// A crud as the feeds show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub likes_count: u32,
    pub replies_count: u32,
    pub reposts_count: u32,
    pub replies: Vec<Reply>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub uuid: Uuid,
    pub reply_to_activity_uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub likes_count: u32,
    pub replies_count: u32,
    pub reposts_count: u32,
}

/// POST /api/activities. Missing fields read as blank, so they get the same
/// machine-readable codes as empty ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateActivity {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub ttl: String,
}

impl CreateActivity {
    /// Every problem with the crud at once, or how long it lives.
    pub fn validate(&self) -> Result<Ttl, Vec<ErrorCode>> {
        let mut errors = Vec::new();
        check_message(&self.message, ACTIVITY_MAX_CHARS, &mut errors);
        let ttl = if is_blank(&self.ttl) {
            errors.push(ErrorCode::TtlBlank);
            None
        } else {
            let ttl = Ttl::from_code(&self.ttl);
            if ttl.is_none() {
                errors.push(ErrorCode::TtlInvalid);
            }
            ttl
        };
        match ttl {
            Some(ttl) if errors.is_empty() => Ok(ttl),
            _ => Err(errors),
        }
    }
}

/// POST /api/activities/{uuid}/reply
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateReply {
    #[serde(default)]
    pub message: String,
}

impl CreateReply {
    pub fn validate(&self) -> Result<(), Vec<ErrorCode>> {
        let mut errors = Vec::new();
        check_message(&self.message, REPLY_MAX_CHARS, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// How long a crud lives before it leaves the feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    ThirtyDays,
    SevenDays,
    ThreeDays,
    OneDay,
    TwelveHours,
    ThreeHours,
    OneHour,
}

impl Ttl {
    pub const ALL: [Ttl; 7] = [
        Ttl::ThirtyDays,
        Ttl::SevenDays,
        Ttl::ThreeDays,
        Ttl::OneDay,
        Ttl::TwelveHours,
        Ttl::ThreeHours,
        Ttl::OneHour,
    ];

    /// What the form preselects.
    pub const DEFAULT: Ttl = Ttl::SevenDays;

    /// The value sent in `ttl`, as Cruddur's form sends it.
    pub fn code(self) -> &'static str {
        match self {
            Ttl::ThirtyDays => "30-days",
            Ttl::SevenDays => "7-days",
            Ttl::ThreeDays => "3-days",
            Ttl::OneDay => "1-day",
            Ttl::TwelveHours => "12-hours",
            Ttl::ThreeHours => "3-hours",
            Ttl::OneHour => "1-hour",
        }
    }

    pub fn from_code(code: &str) -> Option<Ttl> {
        Ttl::ALL.into_iter().find(|ttl| ttl.code() == code)
    }

    pub fn duration(self) -> Duration {
        match self {
            Ttl::ThirtyDays => Duration::days(30),
            Ttl::SevenDays => Duration::days(7),
            Ttl::ThreeDays => Duration::days(3),
            Ttl::OneDay => Duration::days(1),
            Ttl::TwelveHours => Duration::hours(12),
            Ttl::ThreeHours => Duration::hours(3),
            Ttl::OneHour => Duration::hours(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crud(message: &str, ttl: &str) -> CreateActivity {
        CreateActivity {
            message: message.into(),
            ttl: ttl.into(),
        }
    }

    #[test]
    fn a_valid_crud_gets_its_ttl() {
        assert_eq!(crud("hello", "1-hour").validate(), Ok(Ttl::OneHour));
    }

    #[test]
    fn every_ttl_code_reads_back_as_itself() {
        for ttl in Ttl::ALL {
            assert_eq!(Ttl::from_code(ttl.code()), Some(ttl));
        }
    }

    #[test]
    fn all_problems_are_reported_together() {
        assert_eq!(
            crud("   ", "").validate(),
            Err(vec![ErrorCode::MessageBlank, ErrorCode::TtlBlank])
        );
        assert_eq!(
            crud(&"a".repeat(281), "forever").validate(),
            Err(vec![
                ErrorCode::MessageExceedMaxChars,
                ErrorCode::TtlInvalid
            ])
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(crud(&"é".repeat(280), "1-day").validate(), Ok(Ttl::OneDay));
    }

    #[test]
    fn a_reply_may_be_longer_than_a_crud() {
        let reply = CreateReply {
            message: "a".repeat(1024),
        };
        assert_eq!(reply.validate(), Ok(()));
        let too_long = CreateReply {
            message: "a".repeat(1025),
        };
        assert_eq!(
            too_long.validate(),
            Err(vec![ErrorCode::MessageExceedMaxChars])
        );
    }
}
