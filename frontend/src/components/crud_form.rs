use leptos::prelude::*;
use shared::activities::ACTIVITY_MAX_CHARS;
use shared::{Activity, CreateActivity, Ttl};

use crate::api::{self, ApiError};

/// Posts a crud: the message with its countdown, how long it lives, and the error in words.
#[component]
pub fn CrudForm(on_created: impl Fn(Activity) + 'static) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let ttl = RwSignal::new(Ttl::DEFAULT.code().to_owned());
    let post = Action::new_local(api::create_activity);
    let remaining =
        move || ACTIVITY_MAX_CHARS as i64 - message.with(|text| text.chars().count() as i64);
    let error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match post.value().get() {
        Some(Ok(activity)) => {
            message.set(String::new());
            error.set(None);
            on_created(activity);
        }
        Some(Err(failure)) => error.set(Some(failure)),
        None => {}
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        post.dispatch(CreateActivity {
            message: message.get_untracked(),
            ttl: ttl.get_untracked(),
        });
    };
    view! {
        <form class="crud-form" on:submit=submit>
            <textarea
                name="message"
                placeholder="What would you like to say?"
                prop:value=move || message.get()
                on:input=move |event| message.set(event_target_value(&event))
            ></textarea>
            <div class="controls">
                <span class="countdown" class:over=move || remaining() < 0>{remaining}</span>
                <select name="ttl" on:change=move |event| ttl.set(event_target_value(&event))>
                    {Ttl::ALL
                        .into_iter()
                        .map(|choice| {
                            view! {
                                <option value=choice.code() selected=choice == Ttl::DEFAULT>
                                    {choice.code()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <button type="submit" disabled=move || post.pending().get()>"Crud"</button>
            </div>
            {move || error.get().map(|error| view! { <p class="error">{error.describe()}</p> })}
        </form>
    }
}
