use leptos::prelude::*;
use shared::Activity;
use time::OffsetDateTime;

use crate::clock;

/// "3h", "2d": how long ago, as feeds say it.
fn ago(then: OffsetDateTime) -> String {
    let now = OffsetDateTime::from_unix_timestamp((clock::epoch_millis() / 1000.0) as i64)
        .unwrap_or(then);
    let elapsed = now - then;
    if elapsed.whole_days() > 0 {
        format!("{}d", elapsed.whole_days())
    } else if elapsed.whole_hours() > 0 {
        format!("{}h", elapsed.whole_hours())
    } else {
        format!("{}m", elapsed.whole_minutes().max(1))
    }
}

fn plural(count: u32, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[component]
pub fn ActivityItem(activity: Activity) -> impl IntoView {
    let profile = format!("/@{}", activity.handle);
    let replies = activity.replies_count;
    view! {
        <article class="activity">
            <header>
                <a class="display-name" href=profile.clone()>{activity.display_name}</a>
                <a class="handle" href=profile>"@"{activity.handle}</a>
                <time>{ago(activity.created_at)}</time>
            </header>
            <p class="message">{activity.message}</p>
            <footer>
                <span class="count">{plural(replies, "reply", "replies")}</span>
                <span class="count">{plural(activity.likes_count, "like", "likes")}</span>
            </footer>
        </article>
    }
}
