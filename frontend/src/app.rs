use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::pages::{
    activity::ActivityPage, conversation::ConversationPage, home::HomePage, messages::MessagesPage,
    notifications::NotificationsPage, search::SearchPage, trace::TracePage, traces::TracesPage,
    user::UserPage,
};
use crate::telemetry::interaction;

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <RouteChangeSpans/>
            <div class="layout">
                <nav class="sidebar">
                    <A href="/" attr:class="brand">"Cruddur"</A>
                    <A href="/">"Home"</A>
                    <A href="/notifications">"Notifications"</A>
                    <A href="/search">"Search"</A>
                    <A href="/messages">"Messages"</A>
                    <A href="/traces">"Traces"</A>
                    <A href="/@andrewbrown">"Profile"</A>
                </nav>
                <main class="content">
                    <Routes fallback=|| view! { <p class="empty">"There is nothing here."</p> }>
                        <Route path=path!("/") view=HomePage/>
                        <Route path=path!("/notifications") view=NotificationsPage/>
                        <Route path=path!("/search") view=SearchPage/>
                        <Route path=path!("/messages") view=MessagesPage/>
                        <Route path=path!("/messages/:handle") view=ConversationPage/>
                        <Route path=path!("/traces") view=TracesPage/>
                        <Route path=path!("/traces/:trace_id") view=TracePage/>
                        <Route path=path!("/:handle") view=UserPage/>
                        <Route path=path!("/:handle/status/:uuid") view=ActivityPage/>
                    </Routes>
                </main>
            </div>
            <LastActionTrace/>
        </Router>
    }
}

/// A `routeChange` span for each page change, child of the click that caused it.
#[component]
fn RouteChangeSpans() -> impl IntoView {
    let location = use_location();
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if let Some(previous) = previous.filter(|previous| *previous != path) {
            interaction::route_changed(&previous, &path);
        }
        path
    });
}

/// For developers, on every page: the trace of the last thing you did, one click from its
/// waterfall.
#[component]
fn LastActionTrace() -> impl IntoView {
    let last = interaction::last_action_trace();
    move || {
        last.get().map(|trace_id| {
            let short = trace_id[..8].to_owned();
            view! {
                <a class="last-trace" href=format!("/traces/{trace_id}") title="The trace of your last action">
                    "trace " <code>{short}</code>
                </a>
            }
        })
    }
}
