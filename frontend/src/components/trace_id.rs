use leptos::prelude::*;
use shared::traces::short_trace_id;

/// A trace id as people tell traces apart, by its random end, with a button that copies the
/// whole id to paste into Honeycomb, X-Ray or a log search.
#[component]
pub fn TraceIdCopy(trace_id: String) -> impl IntoView {
    let short = short_trace_id(&trace_id).to_owned();
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let clipboard = window().navigator().clipboard();
        let _ = clipboard.write_text(&trace_id);
        copied.set(true);
    };
    view! {
        <span class="trace-id">
            <code>{short}</code>
            <button type="button" class="copy-id" title="Copy the whole trace id" on:click=copy>
                {move || if copied.get() { "copied" } else { "copy" }}
            </button>
        </span>
    }
}
