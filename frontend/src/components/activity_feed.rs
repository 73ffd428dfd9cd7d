use leptos::prelude::*;
use shared::Activity;

use crate::components::activity_item::ActivityItem;
use crate::components::query_view::{Query, QueryView, list_or};

/// A feed of cruds as it loads.
#[component]
pub fn ActivityFeed(feed: Query<Vec<Activity>>, empty: &'static str) -> impl IntoView {
    view! {
        <QueryView
            query=feed
            render=move |activities| {
                list_or(activities, empty, |activity| view! { <ActivityItem activity/> })
            }
        />
    }
}
