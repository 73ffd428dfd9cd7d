use leptos::prelude::*;
use shared::Activity;

use crate::api::ApiError;
use crate::components::activity_item::ActivityItem;
use crate::components::query_view::{QueryView, list_or};

/// A feed of cruds as it loads.
#[component]
pub fn ActivityFeed(
    feed: LocalResource<Result<Vec<Activity>, ApiError>>,
    empty: &'static str,
) -> impl IntoView {
    view! {
        <QueryView
            resource=feed
            render=move |activities| {
                list_or(activities, empty, |activity| view! { <ActivityItem activity/> })
            }
        />
    }
}
