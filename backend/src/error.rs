//! The backend's one error type. Each variant maps to one status code and a JSON body of
//! machine-readable codes; internal detail goes to the logs and the span, never to the client.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::{ErrorBody, ErrorCode};

use crate::repository::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request failed validation: {0:?}")]
    Invalid(Vec<ErrorCode>),
    #[error("forbidden: {0:?}")]
    Forbidden(ErrorCode),
    #[error("not found: {0:?}")]
    NotFound(ErrorCode),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("malformed request: {0:?}")]
    BadRequest(ErrorCode),
    #[error("the request body is not JSON")]
    UnsupportedMediaType,
    #[error("the request body is too large: {0:?}")]
    PayloadTooLarge(ErrorCode),
    #[error("too many requests; retry after {retry_after:?}")]
    TooManyRequests { retry_after: Duration },
    #[error("busy: {0:?}")]
    Unavailable(ErrorCode),
    /// Unreachable, locked, full, read-only or corrupt: the one log line of the request's
    /// failure says which.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_codes(&self) -> (StatusCode, Vec<ErrorCode>) {
        match self {
            ApiError::Invalid(codes) => (StatusCode::UNPROCESSABLE_ENTITY, codes.clone()),
            ApiError::Forbidden(code) => (StatusCode::FORBIDDEN, vec![*code]),
            ApiError::NotFound(code) => (StatusCode::NOT_FOUND, vec![*code]),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                vec![ErrorCode::MethodNotAllowed],
            ),
            ApiError::BadRequest(code) => (StatusCode::BAD_REQUEST, vec![*code]),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                vec![ErrorCode::UnsupportedMediaType],
            ),
            ApiError::PayloadTooLarge(code) => (StatusCode::PAYLOAD_TOO_LARGE, vec![*code]),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![ErrorCode::TooManyRequests],
            ),
            ApiError::Unavailable(code) => (StatusCode::SERVICE_UNAVAILABLE, vec![*code]),
            ApiError::DatabaseUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![ErrorCode::DatabaseUnavailable],
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![ErrorCode::InternalError],
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, errors) = self.status_and_codes();
        // Not ready while draining is what a restart says, not a failure.
        if status.is_server_error()
            && !matches!(self, ApiError::Unavailable(ErrorCode::ShuttingDown))
        {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(ErrorBody { errors })).into_response();
        if let ApiError::TooManyRequests { retry_after } = self {
            // Whole seconds, rounded up: a client that waits this long finds budget again.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(ErrorCode::PayloadTooLarge),
            // Well-formed JSON of the wrong shape, e.g. a number where text belongs.
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Invalid(vec![ErrorCode::InvalidBody]),
            _ => ApiError::BadRequest(ErrorCode::MalformedJson),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::BadRequest(ErrorCode::InvalidQuery)
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::UserNotFound => ApiError::NotFound(ErrorCode::UserNotFound),
            RepositoryError::ActivityNotFound => ApiError::NotFound(ErrorCode::ActivityNotFound),
            RepositoryError::Unavailable(detail) => ApiError::DatabaseUnavailable(detail),
            RepositoryError::Failed(detail) => ApiError::Internal(detail),
        }
    }
}

/// `Json` whose rejections answer in the API's error format instead of plain text.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections answer in the API's error format instead of plain text.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
