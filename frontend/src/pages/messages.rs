use leptos::prelude::*;
use shared::MessageGroup;

use crate::api;
use crate::components::activity_item::Author;
use crate::components::query_view::{Query, QueryView, page_or};
use crate::router;

/// `/messages`: one line per person you talk with, newest first.
#[component]
pub fn MessagesPage() -> impl IntoView {
    let groups = Query::new(|| api::message_groups(router::before().as_deref()));
    view! {
        <header class="page-header"><h1>"Messages"</h1></header>
        <QueryView
            query=groups
            render=|page| {
                let item = |group| view! { <GroupItem group/> };
                page_or(page, "No conversations yet.", item, false)
            }
        />
    }
}

#[component]
fn GroupItem(group: MessageGroup) -> impl IntoView {
    let conversation = format!("/messages/@{}", group.handle);
    view! {
        <article class="activity message-group">
            <Author display_name=group.display_name handle=group.handle created_at=group.created_at/>
            <a class="message" href=conversation>{group.message}</a>
        </article>
    }
}
