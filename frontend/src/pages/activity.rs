use leptos::prelude::*;
use shared::CreateReply;
use shared::activities::REPLY_MAX_CHARS;

use crate::api;
use crate::components::activity_item::{ActivityItem, ReplyItem};
use crate::components::compose_form::{ComposeForm, sending};
use crate::components::query_view::{Query, QueryView, list_or};

/// `/@{handle}/status/{uuid}`: a crud, its replies, and a form to reply.
#[component]
pub fn ActivityPage(uuid: String) -> impl IntoView {
    let crud = Query::new({
        let uuid = uuid.clone();
        move || api::activity(&uuid)
    });
    let send = move |message| sending(api::reply(&uuid, &CreateReply { message }));
    view! {
        <header class="page-header"><h1>"Crud"</h1></header>
        <QueryView
            query=crud
            render=move |activity| {
                let replies = activity.replies.clone();
                view! {
                    <ActivityItem activity/>
                    <ComposeForm
                        class="reply-form"
                        placeholder="Reply…"
                        max_chars=REPLY_MAX_CHARS
                        submit_label="Reply"
                        send=send.clone()
                        on_sent=move |()| crud.ask_again()
                    />
                    {list_or(replies, "No replies yet.", |reply| view! { <ReplyItem reply/> })}
                }
            }
        />
    }
}
