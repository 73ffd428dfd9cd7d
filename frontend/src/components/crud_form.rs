use leptos::prelude::*;
use shared::activities::ACTIVITY_MAX_CHARS;
use shared::{CreateActivity, Ttl};

use crate::api;
use crate::components::compose_form::{ComposeForm, sending};

/// Posts a crud: the message, and how long it lives.
#[component]
pub fn CrudForm(#[prop(into)] on_created: Callback<()>) -> impl IntoView {
    let ttl = RwSignal::new(Ttl::DEFAULT.code().to_owned());
    let send = move |message| {
        sending(api::create_activity(&CreateActivity {
            message,
            ttl: ttl.get_untracked(),
        }))
    };
    view! {
        <ComposeForm
            class="crud-form"
            placeholder="What would you like to say?"
            max_chars=ACTIVITY_MAX_CHARS
            submit_label="Crud"
            send
            on_sent=on_created
        >
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
        </ComposeForm>
    }
}
