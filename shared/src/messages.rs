use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ErrorCode, check_message, is_blank};

/// Longest direct message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 1024;

/// A conversation with one other user, as the Messages page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageGroup {
    pub uuid: Uuid,
    /// The other user's name and handle.
    pub display_name: String,
    pub handle: String,
    /// The latest message of the conversation.
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub uuid: Uuid,
    /// The sender's name and handle.
    pub display_name: String,
    pub handle: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// POST /api/messages
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateMessage {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub user_receiver_handle: String,
}

impl CreateMessage {
    pub fn validate(&self) -> Result<(), Vec<ErrorCode>> {
        let mut errors = Vec::new();
        check_message(&self.message, MESSAGE_MAX_CHARS, &mut errors);
        if is_blank(&self.user_receiver_handle) {
            errors.push(ErrorCode::UserReceiverHandleBlank);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_needs_a_receiver_and_a_text() {
        let blank = CreateMessage::default();
        assert_eq!(
            blank.validate(),
            Err(vec![
                ErrorCode::MessageBlank,
                ErrorCode::UserReceiverHandleBlank
            ])
        );
    }
}
