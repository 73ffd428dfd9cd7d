use leptos::prelude::*;
use shared::CreateMessage;
use shared::messages::MESSAGE_MAX_CHARS;

use crate::api;
use crate::components::activity_item::Note;
use crate::components::compose_form::{ComposeForm, sending};
use crate::components::query_view::{Query, QueryView, page_or};
use crate::router;

/// `/messages/@{handle}`: the conversation with one person, oldest first, and a form to write.
#[component]
pub fn ConversationPage(handle: String) -> impl IntoView {
    let title = format!("@{handle}");
    let messages = Query::new({
        let handle = handle.clone();
        move || api::conversation(&handle, router::before().as_deref())
    });
    let send = move |message| {
        sending(api::send_message(&CreateMessage {
            message,
            user_receiver_handle: handle.clone(),
        }))
    };
    view! {
        <header class="page-header"><h1>{title}</h1></header>
        <QueryView
            query=messages
            render=|page| {
                let item = |message: shared::Message| {
                    view! {
                        <Note
                            class="message-item"
                            display_name=message.display_name
                            handle=message.handle
                            created_at=message.created_at
                            message=message.message
                        />
                    }
                };
                // Older messages are behind the link, above the page, as a conversation reads.
                page_or(page, "No messages yet: say hello.", item, true)
            }
        />
        <ComposeForm
            class="message-form"
            placeholder="Write a message…"
            max_chars=MESSAGE_MAX_CHARS
            submit_label="Send"
            send
            on_sent=move |()| messages.ask_again()
        />
    }
}
