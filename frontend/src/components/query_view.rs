use leptos::prelude::*;

use crate::api::ApiError;

/// What a page asked the API for, as it loads: a loading line, the error in words, or `render`
/// of the answer.
#[component]
pub fn QueryView<T, V>(
    resource: LocalResource<Result<T, ApiError>>,
    render: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
{
    move || match resource.get() {
        None => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="error page-error">{error.describe()}</p> }.into_any(),
        Some(Ok(answer)) => render(answer).into_any(),
    }
}

/// A list, or what to say when it is empty.
pub fn list_or<T, V>(items: Vec<T>, empty: &'static str, item: impl Fn(T) -> V) -> AnyView
where
    V: IntoView + 'static,
{
    if items.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    view! { <div class="feed">{items.into_iter().map(item).collect_view()}</div> }.into_any()
}
