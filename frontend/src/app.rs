use leptos::prelude::*;
use shared::ACTING_USER_HANDLE;
use shared::traces::short_trace_id;

use crate::pages::trace_view::{list::TracesPage, waterfall::TracePage};
use crate::pages::{
    activity::ActivityPage, conversation::ConversationPage, home::HomePage, messages::MessagesPage,
    notifications::NotificationsPage, search::SearchPage, user::UserPage,
};
use crate::router::{self, NavLink, Route};
use crate::telemetry::{interaction, trace_link};

#[component]
pub fn App() -> impl IntoView {
    router::follow_the_address_bar();
    let address = router::address();
    // Made once: the sidebar lasts as long as the page.
    let profile: &'static str = format!("/@{ACTING_USER_HANDLE}").leak();
    view! {
        <RouteChangeSpans/>
        <div class="layout">
            <nav class="sidebar">
                <a href="/" class="brand">"Cruddur"</a>
                <NavLink href="/" label="Home"/>
                <NavLink href="/notifications" label="Notifications"/>
                <NavLink href="/search" label="Search"/>
                <NavLink href="/messages" label="Messages"/>
                <NavLink href=profile label="Profile"/>
                {TRACE_VIEW.then(|| view! { <NavLink href="/traces" label="Traces"/> })}
            </nav>
            <main class="content">{move || page(Route::of(&address.get()))}</main>
        </div>
        {TRACE_VIEW.then(|| view! { <LastActionTrace/> })}
    }
}

/// Whether this build has the local trace view (the `trace-view` feature). A constant rather than
/// `#[cfg]`: both builds compile every page, and the optimizer drops what this one cannot reach.
const TRACE_VIEW: bool = cfg!(feature = "trace-view");

fn page(route: Route) -> AnyView {
    match route {
        Route::Home => view! { <HomePage/> }.into_any(),
        Route::Notifications => view! { <NotificationsPage/> }.into_any(),
        Route::Search { term } => view! { <SearchPage term/> }.into_any(),
        Route::Messages => view! { <MessagesPage/> }.into_any(),
        Route::Conversation { handle } => view! { <ConversationPage handle/> }.into_any(),
        Route::Traces if TRACE_VIEW => view! { <TracesPage/> }.into_any(),
        Route::Trace { trace_id } if TRACE_VIEW => view! { <TracePage trace_id/> }.into_any(),
        Route::User { handle } => view! { <UserPage handle/> }.into_any(),
        Route::Activity { uuid } => view! { <ActivityPage uuid/> }.into_any(),
        Route::Traces | Route::Trace { .. } | Route::NotFound => {
            view! { <p class="empty">"There is nothing here."</p> }.into_any()
        }
    }
}

/// A `routeChange` span for each page change, child of the click that caused it.
#[component]
fn RouteChangeSpans() -> impl IntoView {
    let address = router::address();
    Effect::new(move |previous: Option<String>| {
        let path = address.with(|address| router::path(address).to_owned());
        if let Some(previous) = previous.filter(|previous| *previous != path) {
            interaction::route_changed(&previous, &path);
        }
        path
    });
}

/// For developers, on every page: the trace of the last thing you did, one click from its
/// waterfall, and from its page in Honeycomb when spans go there.
#[component]
fn LastActionTrace() -> impl IntoView {
    let last = interaction::last_action_trace();
    move || {
        last.get().map(|trace_id| {
            let short = short_trace_id(&trace_id).to_owned();
            let honeycomb = trace_link::for_trace(&trace_id).map(|url| {
                view! {
                    <a class="honeycomb" href=url target="_blank" rel="noopener">"Honeycomb"</a>
                }
            });
            view! {
                <span class="last-trace">
                    <a href=format!("/traces/{trace_id}") title="The trace of your last action">
                        "trace " <code>{short}</code>
                    </a>
                    {honeycomb}
                </span>
            }
        })
    }
}
