use std::time::Duration;

use leptos::prelude::*;
use shared::traces::{TraceFilter, TraceSummary};
use shared::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

use super::format::{micros_as_text, time_of_day};
use super::style::{TRACE_VIEW_STYLE, service_class};
use crate::api;
use crate::components::activity_item::plural;
use crate::components::query_view::{Query, QueryView, list_or};

/// How often the list asks again: it is live while you click around in another tab.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// `/traces`: the recent traces the backend keeps, browser and server spans joined, newest
/// first, refreshed as they arrive.
#[component]
pub fn TracesPage() -> impl IntoView {
    let service = RwSignal::new(String::new());
    let errors_only = RwSignal::new(false);
    let min_duration = RwSignal::new(String::new());
    let traces = Query::new(move || {
        api::traces(&TraceFilter {
            service: Some(service.get()).filter(|service| !service.is_empty()),
            errors: errors_only.get(),
            min_duration_ms: min_duration.get().trim().parse().ok(),
        })
    });
    if let Ok(refresh) = set_interval_with_handle(move || traces.ask_again(), REFRESH_EVERY) {
        on_cleanup(move || refresh.clear());
    }
    view! {
        <style>{TRACE_VIEW_STYLE}</style>
        <header class="page-header"><h1>"Traces"</h1></header>
        <form class="trace-filters" on:submit=|event| event.prevent_default()>
            <select name="service" on:change=move |event| service.set(event_target_value(&event))>
                <option value="">"Every service"</option>
                <option value=FRONTEND_SERVICE_NAME>{FRONTEND_SERVICE_NAME}</option>
                <option value=BACKEND_SERVICE_NAME>{BACKEND_SERVICE_NAME}</option>
            </select>
            <label>
                <input
                    type="checkbox"
                    name="errors"
                    on:change=move |event| errors_only.set(event_target_checked(&event))
                />
                " Errors only"
            </label>
            <label>
                "At least "
                <input
                    type="number"
                    name="min_duration_ms"
                    min="0"
                    on:input=move |event| min_duration.set(event_target_value(&event))
                />
                " ms"
            </label>
        </form>
        <QueryView
            query=traces
            render=|traces| {
                list_or(
                    traces,
                    "No traces yet: click around Cruddur and they appear here.",
                    |trace| view! { <TraceRow trace/> },
                )
            }
        />
    }
}

#[component]
fn TraceRow(trace: TraceSummary) -> impl IntoView {
    let page = format!("/traces/{}", trace.trace_id);
    let services = trace
        .services
        .iter()
        .map(|service| {
            let class = service_class(trace.browser_services.contains(service));
            view! { <span class=format!("service {class}")>{service.clone()}</span> }
        })
        .collect_view();
    view! {
        <a class="trace-row" class:error=trace.error href=page>
            <span class="root-name">{trace.root_name}</span>
            <span class="services">{services}</span>
            <span class="muted">{plural(trace.span_count as u32, "span", "spans")}</span>
            <span class="muted">{micros_as_text(trace.duration_micros)}</span>
            <span class="muted">{time_of_day(trace.start_unix_micros)}</span>
            <code class="muted">{trace.trace_id[..8].to_owned()}</code>
        </a>
    }
}
