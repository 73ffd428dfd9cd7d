use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::{ACTING_USER_HANDLE, CreateMessage, ErrorCode, Message, MessageGroup};
use time::OffsetDateTime;
use tracing::Instrument;
use tracing::field::Empty;

use super::count;
use crate::error::{ApiError, ApiJson};
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/message_groups", get(message_groups))
        .route("/api/messages/@{handle}", get(conversation))
        .route("/api/messages", post(create))
}

async fn message_groups(
    State(state): State<AppState>,
) -> Result<Json<Vec<MessageGroup>>, ApiError> {
    let span = tracing::info_span!(
        "message-groups",
        app.user_handle = ACTING_USER_HANDLE,
        app.result_length = Empty,
    );
    let groups = state
        .repository
        .message_groups(ACTING_USER_HANDLE)
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&groups));
    Ok(Json(groups))
}

async fn conversation(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let span = tracing::info_span!(
        "conversation-messages",
        app.user_handle = ACTING_USER_HANDLE,
        app.other_user_handle = %handle,
        app.result_length = Empty,
    );
    let messages = state
        .repository
        .messages(ACTING_USER_HANDLE, &handle)
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&messages));
    Ok(Json(messages))
}

async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateMessage>,
) -> Result<Json<Message>, ApiError> {
    let span = tracing::info_span!(
        "create-message",
        app.user_handle = ACTING_USER_HANDLE,
        app.other_user_handle = %body.user_receiver_handle,
    );
    async {
        tracing::info_span!("validate-message").in_scope(|| {
            body.validate().map_err(ApiError::Invalid)?;
            if body
                .user_receiver_handle
                .trim()
                .eq_ignore_ascii_case(ACTING_USER_HANDLE)
            {
                return Err(ApiError::Invalid(vec![ErrorCode::UserReceiverHandleSelf]));
            }
            Ok(())
        })?;
        let message = state
            .repository
            .create_message(
                ACTING_USER_HANDLE,
                body.user_receiver_handle.trim(),
                &body.message,
                OffsetDateTime::now_utc(),
            )
            .instrument(tracing::info_span!("store-message"))
            .await?;
        Ok(Json(message))
    }
    .instrument(span)
    .await
}
