use leptos::prelude::*;
use shared::Activity;

use crate::api::ApiError;
use crate::components::activity_item::ActivityItem;

/// A feed as it loads: a loading line, the error in words, an empty state, or the cruds.
#[component]
pub fn ActivityFeed(
    feed: LocalResource<Result<Vec<Activity>, ApiError>>,
    #[prop(into)] empty: String,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let empty = empty.clone();
                feed.get().map(|loaded| match loaded {
                    Err(error) => view! { <p class="error">{error.describe()}</p> }.into_any(),
                    Ok(activities) if activities.is_empty() => {
                        view! { <p class="empty">{empty}</p> }.into_any()
                    }
                    Ok(activities) => view! {
                        <div class="feed">
                            {activities
                                .into_iter()
                                .map(|activity| view! { <ActivityItem activity/> })
                                .collect_view()}
                        </div>
                    }
                    .into_any(),
                })
            }}
        </Suspense>
    }
}
