use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::{ACTING_USER_HANDLE, Activity, CreateActivity, CreateReply, ErrorCode, Page, Reply};
use time::OffsetDateTime;
use tracing::field::{Empty, display};
use tracing::{Instrument, Span};
use uuid::Uuid;

use super::page_params::PageParams;
use super::span_values::{count, rfc3339};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::kept_page::{KeptPage, PageJson};
use crate::repository::{PageRequest, Repository};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/activities", post(create))
        .route("/api/activities/home", get(home))
        .route("/api/activities/notifications", get(notifications))
        .route("/api/activities/search", get(search))
        .route("/api/activities/@{handle}", get(user_feed))
        .route("/api/activities/{uuid}", get(show))
        .route("/api/activities/{uuid}/replies", get(replies))
        .route("/api/activities/{uuid}/reply", post(reply))
}

// The seeds' name for this span, kept so that their Honeycomb queries still find it, though
// the cruds now come from the database rather than a mock.
#[tracing::instrument(
    name = "home-activities-mock-data",
    skip_all,
    fields(app.now = Empty, app.result_length = Empty, app.page_kept = Empty)
)]
async fn home(
    State(repository): State<Arc<dyn Repository>>,
    State(kept): State<Arc<KeptPage>>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let span = Span::current();
    let now = OffsetDateTime::now_utc();
    span.record("app.now", display(rfc3339(now)));
    let request = page.request()?;
    if request != PageRequest::first() {
        let activities = repository.home_activities(request, now).await?;
        span.record("app.result_length", count(activities.items.len()));
        return Ok(Json(activities).into_response());
    }
    // The first page is what nearly every visit reads, the same for everyone: kept as sent
    // while the feed's version holds, it costs one row rather than 50 cruds read and written.
    let version = repository.feed_version().await?;
    let kept_page = kept.current(version, now);
    span.record("app.page_kept", kept_page.is_some());
    let page = match kept_page {
        Some(page) => page,
        None => {
            let activities = repository.home_activities(request, now).await?;
            let page = Arc::new(
                PageJson::new(version, &activities)
                    .map_err(|error| ApiError::Internal(error.to_string()))?,
            );
            kept.keep(Arc::clone(&page));
            page
        }
    };
    span.record("app.result_length", count(page.length));
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page.body.clone(),
    )
        .into_response())
}

#[tracing::instrument(
    name = "notifications-activities",
    skip_all,
    fields(app.user_handle = ACTING_USER_HANDLE, app.now = Empty, app.result_length = Empty)
)]
async fn notifications(
    State(repository): State<Arc<dyn Repository>>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Activity>>, ApiError> {
    let span = Span::current();
    let now = OffsetDateTime::now_utc();
    span.record("app.now", display(rfc3339(now)));
    let activities = repository
        .notification_activities(ACTING_USER_HANDLE, page.request()?, now)
        .await?;
    span.record("app.result_length", count(activities.items.len()));
    Ok(Json(activities))
}

#[tracing::instrument(
    name = "user-activities",
    skip_all,
    fields(app.user_handle = %handle, app.result_length = Empty)
)]
async fn user_feed(
    State(repository): State<Arc<dyn Repository>>,
    Path(handle): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Activity>>, ApiError> {
    let activities = repository
        .user_activities(&handle, page.request()?, OffsetDateTime::now_utc())
        .await?;
    Span::current().record("app.result_length", count(activities.items.len()));
    Ok(Json(activities))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    term: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

/// A blank or overlong term is refused before any search, so it makes no search span.
async fn search(
    State(repository): State<Arc<dyn Repository>>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Page<Activity>>, ApiError> {
    let term = params.term.unwrap_or_default();
    let term = term.trim();
    if term.is_empty() {
        return Err(ApiError::Invalid(vec![ErrorCode::SearchTermBlank]));
    }
    // No crud is longer, so a longer term matches nothing; refused before the database scans
    // every crud for it.
    if term.chars().count() > shared::activities::ACTIVITY_MAX_CHARS {
        return Err(ApiError::Invalid(vec![ErrorCode::SearchTermTooLong]));
    }
    let page = PageParams {
        before: params.before,
        limit: params.limit,
    }
    .request()?;
    Ok(Json(
        search_activities(repository.as_ref(), term, page).await?,
    ))
}

#[tracing::instrument(
    name = "search-activities",
    skip_all,
    fields(app.search_term = %term, app.result_length = Empty)
)]
async fn search_activities(
    repository: &dyn Repository,
    term: &str,
    page: PageRequest,
) -> Result<Page<Activity>, ApiError> {
    let activities = repository
        .search_activities(term, page, OffsetDateTime::now_utc())
        .await?;
    Span::current().record("app.result_length", count(activities.items.len()));
    Ok(activities)
}

/// Any path segment that is not an activity's uuid names no activity.
fn activity_uuid(segment: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(segment).map_err(|_| ApiError::NotFound(ErrorCode::ActivityNotFound))
}

#[tracing::instrument(name = "show-activity", skip_all, fields(app.activity_uuid = %uuid))]
async fn show(
    State(repository): State<Arc<dyn Repository>>,
    Path(uuid): Path<String>,
) -> Result<Json<Activity>, ApiError> {
    let uuid = activity_uuid(&uuid)?;
    let activity = repository.activity(uuid, OffsetDateTime::now_utc()).await?;
    Ok(Json(activity))
}

#[tracing::instrument(
    name = "activity-replies",
    skip_all,
    fields(app.activity_uuid = %uuid, app.result_length = Empty)
)]
async fn replies(
    State(repository): State<Arc<dyn Repository>>,
    Path(uuid): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Reply>>, ApiError> {
    let uuid = activity_uuid(&uuid)?;
    let replies = repository
        .replies(uuid, page.request()?, OffsetDateTime::now_utc())
        .await?;
    Span::current().record("app.result_length", count(replies.items.len()));
    Ok(Json(replies))
}

#[tracing::instrument(
    name = "create-activity",
    skip_all,
    fields(app.user_handle = ACTING_USER_HANDLE, app.activity_uuid = Empty)
)]
async fn create(
    State(repository): State<Arc<dyn Repository>>,
    ApiJson(body): ApiJson<CreateActivity>,
) -> Result<Json<Activity>, ApiError> {
    let ttl = tracing::info_span!("validate-activity")
        .in_scope(|| body.validate())
        .map_err(ApiError::Invalid)?;
    let now = OffsetDateTime::now_utc();
    let activity = repository
        .create_activity(ACTING_USER_HANDLE, &body.message, now, now + ttl.duration())
        .instrument(tracing::info_span!("store-activity"))
        .await?;
    Span::current().record("app.activity_uuid", display(activity.uuid));
    Ok(Json(activity))
}

#[tracing::instrument(
    name = "create-reply",
    skip_all,
    fields(app.user_handle = ACTING_USER_HANDLE, app.activity_uuid = %uuid)
)]
async fn reply(
    State(repository): State<Arc<dyn Repository>>,
    Path(uuid): Path<String>,
    ApiJson(body): ApiJson<CreateReply>,
) -> Result<Json<Reply>, ApiError> {
    let uuid = activity_uuid(&uuid)?;
    tracing::info_span!("validate-reply")
        .in_scope(|| body.validate())
        .map_err(ApiError::Invalid)?;
    let reply = repository
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
