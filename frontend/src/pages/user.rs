use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;
use crate::components::query_view::Query;
use crate::router;

/// `/@{handle}`: one user's cruds.
#[component]
pub fn UserPage(handle: String) -> impl IntoView {
    let title = format!("@{handle}");
    let feed = Query::new(move || api::user_activities(&handle, router::before().as_deref()));
    view! {
        <header class="page-header"><h1>{title}</h1></header>
        <ActivityFeed feed empty="No cruds yet."/>
    }
}
