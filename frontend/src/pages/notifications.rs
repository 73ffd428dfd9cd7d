use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;
use crate::components::query_view::Query;
use crate::router;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let feed = Query::new(|| api::notification_activities(router::before().as_deref()));
    view! {
        <header class="page-header"><h1>"Notifications"</h1></header>
        <ActivityFeed feed empty="Nothing for you yet."/>
    }
}
