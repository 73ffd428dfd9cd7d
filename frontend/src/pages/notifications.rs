use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let feed = LocalResource::new(api::notification_activities);
    view! {
        <header class="page-header"><h1>"Notifications"</h1></header>
        <ActivityFeed feed empty="Nothing for you yet."/>
    }
}
