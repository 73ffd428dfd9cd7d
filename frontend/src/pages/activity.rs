use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::CreateReply;
use shared::activities::REPLY_MAX_CHARS;

use crate::api;
use crate::components::activity_item::{ActivityItem, ReplyItem};
use crate::components::compose_form::ComposeForm;
use crate::components::query_view::{QueryView, list_or};

/// `/@{handle}/status/{uuid}`: a crud, its replies, and a form to reply.
#[component]
pub fn ActivityPage() -> impl IntoView {
    let params = use_params_map();
    let uuid = move || params.read().get("uuid").unwrap_or_default();
    let crud = LocalResource::new(move || api::activity(&uuid()));
    let send = move |message| api::reply(&uuid(), &CreateReply { message });
    view! {
        <header class="page-header"><h1>"Crud"</h1></header>
        <QueryView
            resource=crud
            render=move |activity| {
                let replies = activity.replies.clone();
                view! {
                    <ActivityItem activity/>
                    <ComposeForm
                        class="reply-form"
                        placeholder="Reply…"
                        max_chars=REPLY_MAX_CHARS
                        submit_label="Reply"
                        send
                        on_sent=move |_| crud.refetch()
                    />
                    {list_or(replies, "No replies yet.", |reply| view! { <ReplyItem reply/> })}
                }
            }
        />
    }
}
