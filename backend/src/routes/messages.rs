use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::{ACTING_USER_HANDLE, CreateMessage, ErrorCode, Message, MessageGroup, Page};
use time::OffsetDateTime;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::page_params::PageParams;
use super::span_values::count;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::repository::Repository;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/message_groups", get(message_groups))
        .route("/api/messages/@{handle}", get(conversation))
        .route("/api/messages", post(create))
}

#[tracing::instrument(
    name = "message-groups",
    skip_all,
    fields(app.user_handle = ACTING_USER_HANDLE, app.result_length = Empty)
)]
async fn message_groups(
    State(repository): State<Arc<dyn Repository>>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<MessageGroup>>, ApiError> {
    let groups = repository
        .message_groups(ACTING_USER_HANDLE, page.request()?)
        .await?;
    Span::current().record("app.result_length", count(groups.items.len()));
    Ok(Json(groups))
}

#[tracing::instrument(
    name = "conversation-messages",
    skip_all,
    fields(
        app.user_handle = ACTING_USER_HANDLE,
        app.other_user_handle = %handle,
        app.result_length = Empty,
    )
)]
async fn conversation(
    State(repository): State<Arc<dyn Repository>>,
    Path(handle): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Message>>, ApiError> {
    let messages = repository
        .messages(ACTING_USER_HANDLE, &handle, page.request()?)
        .await?;
    Span::current().record("app.result_length", count(messages.items.len()));
    Ok(Json(messages))
}

#[tracing::instrument(
    name = "create-message",
    skip_all,
    fields(
        app.user_handle = ACTING_USER_HANDLE,
        app.other_user_handle = %body.user_receiver_handle,
    )
)]
async fn create(
    State(repository): State<Arc<dyn Repository>>,
    ApiJson(body): ApiJson<CreateMessage>,
) -> Result<Json<Message>, ApiError> {
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
    let message = repository
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
