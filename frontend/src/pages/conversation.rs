use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::CreateMessage;
use shared::messages::MESSAGE_MAX_CHARS;

use crate::api;
use crate::components::activity_item::Note;
use crate::components::compose_form::ComposeForm;
use crate::components::query_view::{QueryView, list_or};

/// `/messages/@{handle}`: the conversation with one person, oldest first, and a form to write.
#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    let handle = move || {
        params
            .read()
            .get("handle")
            .map(|segment| segment.trim_start_matches('@').to_owned())
            .unwrap_or_default()
    };
    let messages = LocalResource::new(move || api::conversation(&handle()));
    let send = move |message| {
        api::send_message(&CreateMessage {
            message,
            user_receiver_handle: handle(),
        })
    };
    view! {
        <header class="page-header"><h1>{move || format!("@{}", handle())}</h1></header>
        <QueryView
            resource=messages
            render=|messages| {
                list_or(
                    messages,
                    "No messages yet: say hello.",
                    |message| {
                        view! {
                            <Note
                                class="message-item"
                                display_name=message.display_name
                                handle=message.handle
                                created_at=message.created_at
                                message=message.message
                            />
                        }
                    },
                )
            }
        />
        <ComposeForm
            class="message-form"
            placeholder="Write a message…"
            max_chars=MESSAGE_MAX_CHARS
            submit_label="Send"
            send
            on_sent=move |_| messages.refetch()
        />
    }
}
