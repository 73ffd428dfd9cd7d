use leptos::prelude::*;

use crate::api;
use crate::components::activity_feed::ActivityFeed;
use crate::components::crud_form::CrudForm;

#[component]
pub fn HomePage() -> impl IntoView {
    let feed = LocalResource::new(api::home_activities);
    let composing = RwSignal::new(false);
    // A new crud tops the feed without a reload: the feed is asked again.
    let on_created = move |_| {
        composing.set(false);
        feed.refetch();
    };
    view! {
        <header class="page-header">
            <h1>"Home"</h1>
            <button class="crud-button" on:click=move |_| composing.update(|open| *open = !*open)>
                "Crud"
            </button>
        </header>
        <Show when=move || composing.get()>
            <CrudForm on_created/>
        </Show>
        <ActivityFeed feed empty="No cruds yet: be the first."/>
    }
}
