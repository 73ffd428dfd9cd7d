use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;
use crate::components::crud_form::CrudForm;
use crate::components::query_view::Query;
use crate::router;

#[component]
pub fn HomePage() -> impl IntoView {
    let feed = Query::new(|| api::home_activities(router::before().as_deref()));
    let composing = RwSignal::new(false);
    // A new crud tops the feed without a reload: the feed is asked again.
    let on_created = move |()| {
        composing.set(false);
        feed.ask_again();
    };
    view! {
        <header class="page-header">
            <h1>"Home"</h1>
            <button class="crud-button" on:click=move |_| composing.update(|open| *open = !*open)>
                "Crud"
            </button>
        </header>
        {move || composing.get().then(|| view! { <CrudForm on_created/> })}
        <ActivityFeed feed empty="No cruds yet: be the first."/>
    }
}
