use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError};
use crate::components::activity_feed::ActivityFeed;

/// `/@{handle}`: one user's cruds.
#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let handle = move || {
        params
            .read()
            .get("handle")
            .and_then(|segment| segment.strip_prefix('@').map(str::to_owned))
    };
    let feed = LocalResource::new(move || {
        let call = handle().map(|handle| api::user_activities(&handle));
        async move {
            match call {
                Some(call) => call.await,
                None => Err(ApiError::Rejected(vec![shared::ErrorCode::NotFound])),
            }
        }
    });
    view! {
        <header class="page-header">
            <h1>{move || handle().map(|handle| format!("@{handle}")).unwrap_or_default()}</h1>
        </header>
        <ActivityFeed feed empty="No cruds yet."/>
    }
}
