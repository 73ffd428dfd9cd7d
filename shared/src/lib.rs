//! What Cruddur's browser client and its API server agree on: the JSON bodies of the API and
//! the validation rules both sides apply. Serde only, so it builds for wasm32 as well.

pub mod activities;
pub mod errors;
pub mod messages;
pub mod pages;
pub mod traces;

pub use activities::{Activity, CreateActivity, CreateReply, Reply, Ttl};
pub use errors::{ErrorBody, ErrorCode};
pub use messages::{CreateMessage, Message, MessageGroup};
pub use pages::{PAGE_SIZE, Page};

/// The user every request acts as until sign-in arrives (as in Cruddur week 2).
pub const ACTING_USER_HANDLE: &str = "andrewbrown";

/// The browser app's `service.name`: on its spans, in the trace view's filters and legend.
pub const FRONTEND_SERVICE_NAME: &str = "cruddur-frontend";

/// The API server's `service.name` unless its environment names it otherwise.
pub const BACKEND_SERVICE_NAME: &str = "cruddur-backend";

/// Length in characters as a person counts them (Unicode scalar values), not in bytes.
fn char_count(text: &str) -> usize {
    text.chars().count()
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// The checks every posted text goes through: present, and within its limit.
fn check_message(message: &str, max_chars: usize, errors: &mut Vec<ErrorCode>) {
    if is_blank(message) {
        errors.push(ErrorCode::MessageBlank);
    } else if char_count(message) > max_chars {
        errors.push(ErrorCode::MessageExceedMaxChars);
    }
}
