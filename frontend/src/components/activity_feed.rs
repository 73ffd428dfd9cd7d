use leptos::prelude::*;
use shared::{Activity, Page};

use crate::components::activity_item::ActivityItem;
use crate::components::query_view::{Query, QueryView, page_or};

/// A page of a feed of cruds as it loads, and the link to the next.
#[component]
pub fn ActivityFeed(feed: Query<Page<Activity>>, empty: &'static str) -> impl IntoView {
    view! {
        <QueryView
            query=feed
            render=move |page| {
                page_or(page, empty, |activity| view! { <ActivityItem activity/> }, false)
            }
        />
    }
}
