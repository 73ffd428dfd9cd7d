use std::pin::Pin;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;

/// A form's call to the API, started when the form is submitted: only whether it worked matters
/// to the form. Boxed, so one form serves every kind of text without being built once per kind.
pub type Sending = Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

/// Wraps a typed API call for a form.
pub fn sending<T>(call: impl Future<Output = Result<T, ApiError>> + 'static) -> Sending {
    Box::pin(async move { call.await.map(drop) })
}

/// A text to send: the textarea with its countdown, the submit button, the API's answer in words
/// next to them, and any extra controls (`children`) beside the button.
#[component]
pub fn ComposeForm(
    /// The form's own class, beside `compose`.
    class: &'static str,
    placeholder: &'static str,
    max_chars: usize,
    submit_label: &'static str,
    #[prop(into)] send: Callback<String, Sending>,
    #[prop(into)] on_sent: Callback<()>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let remaining = move || max_chars as i64 - text.with(|text| text.chars().count() as i64);
    let error = RwSignal::new(None::<ApiError>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let sent = send.run(text.get_untracked());
        spawn_local(async move {
            let sent = sent.await;
            // The page may have been left meanwhile: then there is no form to update.
            pending.try_set(false);
            match sent {
                Ok(()) => {
                    text.try_set(String::new());
                    error.try_set(None);
                    on_sent.run(());
                }
                Err(failure) => {
                    error.try_set(Some(failure));
                }
            }
        });
    };
    view! {
        <form class=format!("compose {class}") on:submit=submit>
            <textarea
                name="message"
                placeholder=placeholder
                prop:value=move || text.get()
                on:input=move |event| text.set(event_target_value(&event))
            ></textarea>
            <div class="controls">
                <span class="countdown" class:over=move || remaining() < 0>{remaining}</span>
                {children.map(|children| children())}
                <button type="submit" disabled=move || pending.get()>{submit_label}</button>
            </div>
            {move || error.get().map(|error| view! { <p class="error">{error.describe()}</p> })}
        </form>
    }
}
