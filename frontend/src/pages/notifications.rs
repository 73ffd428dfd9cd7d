use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;
use crate::components::query_view::Query;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let feed = Query::new(api::notification_activities);
    view! {
        <header class="page-header"><h1>"Notifications"</h1></header>
        <ActivityFeed feed empty="Nothing for you yet."/>
    }
}
