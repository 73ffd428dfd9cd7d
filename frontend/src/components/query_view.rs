use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use shared::Page;

use crate::api::ApiError;
use crate::router;

/// What a page asks the API for: asked when the page opens, again when a signal the question
/// reads changes or on [`Query::ask_again`]; the newest question's answer is the one kept.
///
/// A signal and a task rather than Leptos' `LocalResource`: its async machinery is built again
/// for every answer type, a weight on the bundle, and the pages need none of its suspense or
/// hydration support.
pub struct Query<T: Send + Sync + 'static> {
    answer: RwSignal<Option<Result<T, ApiError>>>,
    again: Trigger,
}

impl<T: Send + Sync + 'static> Clone for Query<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Query<T> {}

impl<T: Send + Sync + 'static> Query<T> {
    pub fn new<Asked>(ask: impl Fn() -> Asked + 'static) -> Self
    where
        Asked: Future<Output = Result<T, ApiError>> + 'static,
    {
        let answer = RwSignal::new(None);
        let again = Trigger::new();
        let newest = Rc::new(Cell::new(0_u32));
        Effect::new(move |_| {
            again.track();
            // Started here, not in the task: the call belongs to the action that caused it.
            let asked = ask();
            let question = newest.get().wrapping_add(1);
            newest.set(question);
            let newest = Rc::clone(&newest);
            spawn_local(async move {
                let result = asked.await;
                if newest.get() == question {
                    // The page may be gone by now; then nobody wants the answer.
                    answer.try_set(Some(result));
                }
            });
        });
        Query { answer, again }
    }

    pub fn ask_again(&self) {
        self.again.notify();
    }
}

/// A query as it loads: a loading line, the error in words, or `render` of the answer.
#[component]
pub fn QueryView<T, V>(
    query: Query<T>,
    render: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match query.answer.get() {
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
    list_view(erased(items, item), empty, None, false)
}

/// A page of a list, or what to say when it is empty, with the link to the next page while
/// there is one: the same address with `?before=`, so the back button returns to the newer
/// page. The link comes after the items, or before them for a list read oldest first.
pub fn page_or<T, V>(
    page: Page<T>,
    empty: &'static str,
    item: impl Fn(T) -> V,
    more_first: bool,
) -> AnyView
where
    V: IntoView + 'static,
{
    list_view(erased(page.items, item), empty, page.next, more_first)
}

/// Items as views of one type, so every list shares one instance of `list_view`'s code.
fn erased<T, V: IntoView + 'static>(items: Vec<T>, item: impl Fn(T) -> V) -> Vec<AnyView> {
    items
        .into_iter()
        .map(|each| item(each).into_any())
        .collect()
}

fn list_view(
    items: Vec<AnyView>,
    empty: &'static str,
    next: Option<String>,
    more_first: bool,
) -> AnyView {
    if items.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let more = next.map(|cursor| {
        let href = router::with_before(&cursor);
        view! { <a class="more" href=href>"More"</a> }
    });
    let (above, below) = if more_first {
        (more, None)
    } else {
        (None, more)
    };
    view! { <div class="feed">{above}{items}{below}</div> }.into_any()
}
