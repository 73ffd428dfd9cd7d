use serde::{Deserialize, Serialize};

/// Every 4xx and 5xx answer of the API has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errors: Vec<ErrorCode>,
}

/// Machine-readable reasons, named as Cruddur's week-2 services name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MessageBlank,
    MessageExceedMaxChars,
    TtlBlank,
    TtlInvalid,
    SearchTermBlank,
    SearchTermTooLong,
    UserReceiverHandleBlank,
    UserReceiverHandleSelf,
    UserNotFound,
    ActivityNotFound,
    TraceNotFound,
    HostNotAllowed,
    LocalTracesOff,
    NotFound,
    MethodNotAllowed,
    MalformedJson,
    InvalidBody,
    InvalidQuery,
    UnsupportedMediaType,
    PayloadTooLarge,
    TooManySpans,
    MalformedOtlp,
    TooManyRequests,
    RelayBusy,
    DatabaseUnavailable,
    /// Only `/api/health/ready`'s: the server is draining before it stops.
    ShuttingDown,
    InternalError,
}

impl ErrorCode {
    /// Words for a person, shown next to the form that caused the error.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::MessageBlank => "Write something first.",
            ErrorCode::MessageExceedMaxChars => "That is longer than allowed.",
            ErrorCode::TtlBlank => "Choose how long it lives.",
            ErrorCode::TtlInvalid => "That lifetime is not one of the choices.",
            ErrorCode::SearchTermBlank => "Type something to search for.",
            ErrorCode::SearchTermTooLong => "Search for fewer words: no crud is that long.",
            ErrorCode::UserReceiverHandleBlank => "Choose who receives the message.",
            ErrorCode::UserReceiverHandleSelf => "You cannot message yourself.",
            ErrorCode::UserNotFound => "There is no such user.",
            ErrorCode::ActivityNotFound => "That crud does not exist, or it has expired.",
            ErrorCode::TraceNotFound => "That trace is not kept here (or no longer).",
            ErrorCode::HostNotAllowed => {
                "Open this address as localhost, 127.0.0.1 or [::1]: it serves this machine only."
            }
            ErrorCode::LocalTracesOff => {
                "The local trace view is off (CRUDDUR_LOCAL_TRACES=off or a production environment)."
            }
            ErrorCode::NotFound => "There is nothing here.",
            ErrorCode::MethodNotAllowed => "This address does not accept that method.",
            ErrorCode::MalformedJson => "The request body is not valid JSON.",
            ErrorCode::InvalidBody => "The request body has the wrong shape.",
            ErrorCode::InvalidQuery => "The query string has the wrong shape.",
            ErrorCode::UnsupportedMediaType => "The request body must be JSON.",
            ErrorCode::PayloadTooLarge => "The request body is too large.",
            ErrorCode::TooManySpans => {
                "Too many spans in one export: send them in smaller batches."
            }
            ErrorCode::MalformedOtlp => "The spans are not valid OTLP.",
            ErrorCode::TooManyRequests => "Too many requests: slow down.",
            ErrorCode::RelayBusy => "The trace relay is busy: try again shortly.",
            ErrorCode::DatabaseUnavailable => {
                "The database cannot be reached just now: try again shortly."
            }
            ErrorCode::ShuttingDown => "This server is restarting: try again.",
            ErrorCode::InternalError => "Something went wrong on our side. Try again.",
        }
    }
}
