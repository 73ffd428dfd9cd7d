use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::components::activity_feed::ActivityFeed;
use crate::components::query_view::Query;
use crate::router;

/// `/search?term=…`: cruds that say something. The term lives in the address, so a search can
/// be shared and the back button works.
#[component]
pub fn SearchPage(term: String) -> impl IntoView {
    let typed = RwSignal::new(term.clone());
    let results = Query::new(move || {
        let call = (!term.trim().is_empty())
            .then(|| api::search_activities(&term, router::before().as_deref()));
        async move {
            match call {
                Some(call) => call.await,
                None => Err(ApiError::Rejected(vec![shared::ErrorCode::SearchTermBlank])),
            }
        }
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let term = js_sys::encode_uri_component(typed.get_untracked().trim());
        router::navigate(&format!("/search?term={term}"));
    };
    view! {
        <header class="page-header"><h1>"Search"</h1></header>
        <form class="search-form" role="search" on:submit=submit>
            <input
                type="search"
                name="term"
                placeholder="Search cruds"
                prop:value=move || typed.get()
                on:input=move |event| typed.set(event_target_value(&event))
            />
            <button type="submit">"Search"</button>
        </form>
        <ActivityFeed feed=results empty="No cruds say that."/>
    }
}
