use std::time::Duration;

use leptos::prelude::*;
use shared::traces::{TraceFilter, TraceSummary, w3c_trace_id};
use shared::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

use super::format::micros_as_text;
use super::style::{TRACE_VIEW_STYLE, service_class};
use crate::components::activity_item::plural;
use crate::components::query_view::{Query, QueryView, list_or};
use crate::components::trace_id::TraceIdCopy;
use crate::{api, clock, router};

/// How often the list asks again: it is live while you click around in another window.
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
    // Following new traces costs a request every few seconds: not while nobody can see them.
    let refresh = move || {
        if !page_hidden() {
            traces.ask_again();
        }
    };
    if let Ok(interval) = set_interval_with_handle(refresh, REFRESH_EVERY) {
        on_cleanup(move || interval.clear());
    }
    let shown_again = window_event_listener(leptos::ev::visibilitychange, move |_| refresh());
    on_cleanup(move || shown_again.remove());
    view! {
        <style>{TRACE_VIEW_STYLE}</style>
        <header class="page-header"><h1>"Traces"</h1></header>
        <FindTrace/>
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
    let routes = trace
        .routes
        .into_iter()
        .map(|route| {
            let title = if route.error { "failed here" } else { "" };
            view! { <span class="route" class:error=route.error title=title>{route.name}</span> }
        })
        .collect_view();
    let started = (trace.start_unix_micros / 1000) as f64;
    let what = if trace.root_detail.is_empty() {
        trace.root_name
    } else {
        format!("{} {}", trace.root_name, trace.root_detail)
    };
    view! {
        <div class="trace-row" class:error=trace.error>
            <a class="root-name" href=page>{what}</a>
            <span class="routes">{routes}</span>
            <span class="services">{services}</span>
            <span class="muted">{plural(trace.span_count as u32, "span", "spans")}</span>
            <span class="muted">{micros_as_text(trace.duration_micros)}</span>
            <time class="muted" title=clock::exact_time(started)>{clock::ago(started)}</time>
            <TraceIdCopy trace_id=trace.trace_id/>
        </div>
    }
}

/// A box that opens a trace by its id, pasted from Honeycomb, X-Ray, the console or a log
/// line: W3C's 32 hex digits, or X-Ray's `1-xxxxxxxx-…`.
#[component]
fn FindTrace() -> impl IntoView {
    let pasted = RwSignal::new(String::new());
    let refused = RwSignal::new(false);
    let find = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        match w3c_trace_id(&pasted.get_untracked()) {
            Some(trace_id) => router::navigate(&format!("/traces/{trace_id}")),
            None => refused.set(true),
        }
    };
    view! {
        <form class="find-trace" on:submit=find>
            <input
                type="search"
                name="trace_id"
                placeholder="Find a trace: 4bf92f35… or 1-6932a1b2-…"
                aria-label="Trace id, W3C or X-Ray"
                on:input=move |event| {
                    pasted.set(event_target_value(&event));
                    refused.set(false);
                }
            />
            <button type="submit">"Find"</button>
            <Show when=move || refused.get()>
                <span class="error">"Not a trace id: 32 hex digits, or X-Ray's 1-xxxxxxxx-… form"</span>
            </Show>
        </form>
    }
}

fn page_hidden() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Hidden
}
