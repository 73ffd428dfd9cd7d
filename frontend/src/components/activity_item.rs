use leptos::prelude::*;
use shared::{Activity, Reply};
use time::OffsetDateTime;

use crate::clock;

/// `1 reply`, `3 replies`.
pub fn plural(count: u32, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Who said it and when: the header every crud, reply and message shares.
#[component]
pub fn Author(display_name: String, handle: String, created_at: OffsetDateTime) -> impl IntoView {
    let profile = format!("/@{handle}");
    let epoch_millis = (created_at.unix_timestamp_nanos() / 1_000_000) as f64;
    view! {
        <header>
            <a class="display-name" href=profile.clone()>{display_name}</a>
            <a class="handle" href=profile>"@"{handle}</a>
            <time title=clock::exact_time(epoch_millis)>{clock::ago(epoch_millis)}</time>
        </header>
    }
}

/// A crud in a feed; its message and reply count lead to its page.
#[component]
pub fn ActivityItem(activity: Activity) -> impl IntoView {
    let page = format!("/@{}/status/{}", activity.handle, activity.uuid);
    view! {
        <article class="activity">
            <Author
                display_name=activity.display_name
                handle=activity.handle
                created_at=activity.created_at
            />
            <a class="message" href=page.clone()>{activity.message}</a>
            <footer>
                <a class="count" href=page>{plural(activity.replies_count, "reply", "replies")}</a>
                <span class="count">{plural(activity.likes_count, "like", "likes")}</span>
            </footer>
        </article>
    }
}

/// A text someone wrote, with its author: a reply, a direct message.
#[component]
pub fn Note(
    class: &'static str,
    display_name: String,
    handle: String,
    created_at: OffsetDateTime,
    message: String,
) -> impl IntoView {
    view! {
        <article class=format!("activity {class}")>
            <Author display_name handle created_at/>
            <p class="message">{message}</p>
        </article>
    }
}

/// A reply under its crud.
#[component]
pub fn ReplyItem(reply: Reply) -> impl IntoView {
    view! {
        <Note
            class="reply"
            display_name=reply.display_name
            handle=reply.handle
            created_at=reply.created_at
            message=reply.message
        />
    }
}
