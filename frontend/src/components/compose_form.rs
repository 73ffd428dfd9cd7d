use leptos::prelude::*;

use crate::api::ApiError;

/// A text to send: the textarea with its countdown, the submit button, the API's answer in words
/// next to them, and any extra controls (`children`) beside the button.
#[component]
pub fn ComposeForm<T, Sent>(
    /// The form's own class, beside `compose`.
    class: &'static str,
    placeholder: &'static str,
    max_chars: usize,
    submit_label: &'static str,
    send: impl Fn(String) -> Sent + 'static,
    on_sent: impl Fn(T) + 'static,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    Sent: Future<Output = Result<T, ApiError>> + 'static,
{
    let text = RwSignal::new(String::new());
    let sending = Action::new_local(move |text: &String| send(text.clone()));
    let remaining = move || max_chars as i64 - text.with(|text| text.chars().count() as i64);
    let error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match sending.value().get() {
        Some(Ok(sent)) => {
            text.set(String::new());
            error.set(None);
            on_sent(sent);
        }
        Some(Err(failure)) => error.set(Some(failure)),
        None => {}
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        sending.dispatch(text.get_untracked());
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
                <button type="submit" disabled=move || sending.pending().get()>{submit_label}</button>
            </div>
            {move || error.get().map(|error| view! { <p class="error">{error.describe()}</p> })}
        </form>
    }
}
