use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::{ACTING_USER_HANDLE, Activity, CreateActivity, CreateReply, ErrorCode, Reply};
use time::OffsetDateTime;
use tracing::Instrument;
use tracing::field::Empty;
use uuid::Uuid;

use super::{count, rfc3339};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/activities", post(create))
        .route("/api/activities/home", get(home))
        .route("/api/activities/notifications", get(notifications))
        .route("/api/activities/search", get(search))
        .route("/api/activities/@{handle}", get(user_feed))
        .route("/api/activities/{uuid}", get(show))
        .route("/api/activities/{uuid}/reply", post(reply))
}

async fn home(State(state): State<AppState>) -> Result<Json<Vec<Activity>>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let span = tracing::info_span!(
        "home-activities-mock-data",
        app.now = %rfc3339(now),
        app.result_length = Empty,
    );
    let activities = state
        .repository
        .home_activities(now)
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&activities));
    Ok(Json(activities))
}

async fn notifications(State(state): State<AppState>) -> Result<Json<Vec<Activity>>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let span = tracing::info_span!(
        "notifications-activities",
        app.user_handle = ACTING_USER_HANDLE,
        app.now = %rfc3339(now),
        app.result_length = Empty,
    );
    let activities = state
        .repository
        .notification_activities(ACTING_USER_HANDLE, now)
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&activities));
    Ok(Json(activities))
}

async fn user_feed(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<Vec<Activity>>, ApiError> {
    let span = tracing::info_span!(
        "user-activities",
        app.user_handle = %handle,
        app.result_length = Empty,
    );
    let activities = state
        .repository
        .user_activities(&handle, OffsetDateTime::now_utc())
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&activities));
    Ok(Json(activities))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    term: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Vec<Activity>>, ApiError> {
    let term = params.term.unwrap_or_default();
    let term = term.trim();
    if term.is_empty() {
        return Err(ApiError::Invalid(vec![ErrorCode::SearchTermBlank]));
    }
    let span = tracing::info_span!(
        "search-activities",
        app.search_term = %term,
        app.result_length = Empty,
    );
    let activities = state
        .repository
        .search_activities(term, OffsetDateTime::now_utc())
        .instrument(span.clone())
        .await?;
    span.record("app.result_length", count(&activities));
    Ok(Json(activities))
}

/// Any path segment that is not an activity's uuid names no activity.
fn activity_uuid(segment: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(segment).map_err(|_| ApiError::NotFound(ErrorCode::ActivityNotFound))
}

async fn show(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Activity>, ApiError> {
    let span = tracing::info_span!("show-activity", app.activity_uuid = %uuid);
    let uuid = activity_uuid(&uuid)?;
    let activity = state
        .repository
        .activity(uuid, OffsetDateTime::now_utc())
        .instrument(span)
        .await?;
    Ok(Json(activity))
}

async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateActivity>,
) -> Result<Json<Activity>, ApiError> {
    let span = tracing::info_span!(
        "create-activity",
        app.user_handle = ACTING_USER_HANDLE,
        app.activity_uuid = Empty,
    );
    async {
        let ttl = tracing::info_span!("validate-activity")
            .in_scope(|| body.validate())
            .map_err(ApiError::Invalid)?;
        let now = OffsetDateTime::now_utc();
        let activity = state
            .repository
            .create_activity(ACTING_USER_HANDLE, &body.message, now, now + ttl.duration())
            .instrument(tracing::info_span!("store-activity"))
            .await?;
        tracing::Span::current()
            .record("app.activity_uuid", tracing::field::display(activity.uuid));
        Ok(Json(activity))
    }
    .instrument(span)
    .await
}

async fn reply(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    ApiJson(body): ApiJson<CreateReply>,
) -> Result<Json<Reply>, ApiError> {
    let span = tracing::info_span!(
        "create-reply",
        app.user_handle = ACTING_USER_HANDLE,
        app.activity_uuid = %uuid,
    );
    async {
        let uuid = activity_uuid(&uuid)?;
        tracing::info_span!("validate-reply")
            .in_scope(|| body.validate())
            .map_err(ApiError::Invalid)?;
        let reply = state
            .repository
            .create_reply(
                uuid,
                ACTING_USER_HANDLE,
                &body.message,
                OffsetDateTime::now_utc(),
            )
            .instrument(tracing::info_span!("store-reply"))
            .await?;
        Ok(Json(reply))
    }
    .instrument(span)
    .await
}
