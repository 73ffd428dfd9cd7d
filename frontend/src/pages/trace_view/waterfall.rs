use leptos::prelude::*;
use shared::traces::{Attribute, SpanStatus, SpanView, TraceDetail};
use shared::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

use super::format::{decimal, micros_as_text};
use super::style::{TRACE_VIEW_STYLE, service_class};
use crate::api;
use crate::components::query_view::{Query, QueryView};

/// `/traces/{trace_id}`: one trace as a waterfall, browser and server spans on one time axis,
/// each nested under its parent; a span's attributes and events open on click.
#[component]
pub fn TracePage(trace_id: String) -> impl IntoView {
    let trace = Query::new(move || api::trace(&trace_id));
    view! {
        <style>{TRACE_VIEW_STYLE}</style>
        <header class="page-header">
            <h1>"Trace"</h1>
            <a href="/traces">"All traces"</a>
        </header>
        <QueryView query=trace render=|trace| view! { <Waterfall trace/> }/>
    }
}

#[component]
fn Waterfall(trace: TraceDetail) -> impl IntoView {
    let start = trace
        .spans
        .iter()
        .map(|span| span.start_unix_micros)
        .min()
        .unwrap_or_default();
    let end = trace
        .spans
        .iter()
        .map(|span| span.start_unix_micros + span.duration_micros)
        .max()
        .unwrap_or_default();
    let total = end.saturating_sub(start).max(1);
    // In hundredths of a percent: integers, as `format` writes them.
    let share = move |micros: u64| micros.saturating_mul(10_000) / total;
    let rows = nested(&trace.spans)
        .into_iter()
        .map(|(depth, span)| {
            let left = share(span.start_unix_micros - start);
            let width = share(span.duration_micros).max(30);
            view! { <SpanRow span depth left width/> }
        })
        .collect_view();
    view! {
        <dl class="trace-ids">
            <dt>"Trace id"</dt>
            <dd><code>{trace.trace_id.clone()}</code></dd>
            <dt>"X-Ray"</dt>
            <dd><code>{trace.xray_trace_id.clone()}</code></dd>
            {trace
                .honeycomb_url
                .map(|url| {
                    view! {
                        <dt>"Honeycomb"</dt>
                        <dd><a href=url target="_blank" rel="noopener">"Open in Honeycomb"</a></dd>
                    }
                })}
        </dl>
        <p class="legend">
            <span class="service browser">{FRONTEND_SERVICE_NAME}</span>
            <span class="service server">{BACKEND_SERVICE_NAME}</span>
            <span class="muted">{format!("{} in all", micros_as_text(end - start))}</span>
        </p>
        <div class="waterfall">{rows}</div>
    }
}

/// Depth-first from the roots (spans whose parent is not in the trace), children by start.
fn nested(spans: &[SpanView]) -> Vec<(usize, SpanView)> {
    let in_trace = |id: &str| spans.iter().any(|span| span.span_id == id);
    let mut ordered = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, &SpanView)> = spans
        .iter()
        .filter(|span| {
            span.parent_span_id
                .as_deref()
                .is_none_or(|parent| !in_trace(parent))
        })
        .rev()
        .map(|span| (0, span))
        .collect();
    while let Some((depth, span)) = stack.pop() {
        ordered.push((depth, span.clone()));
        // `spans` is ordered by start; pushed in reverse, the earliest child comes out first.
        stack.extend(
            spans
                .iter()
                .filter(|child| child.parent_span_id.as_deref() == Some(span.span_id.as_str()))
                .rev()
                .map(|child| (depth + 1, child)),
        );
    }
    ordered
}

#[component]
fn SpanRow(span: SpanView, depth: usize, left: u64, width: u64) -> impl IntoView {
    let open = RwSignal::new(false);
    let class = format!("span-row {}", service_class(&span.service));
    let details = span.clone();
    view! {
        <div class=class class:error=span.status == SpanStatus::Error>
            <button
                class="span-label"
                style=format!("padding-left: {}rem", decimal(depth as u64 * 11 + 4, 10))
                on:click=move |_| open.update(|open| *open = !*open)
            >
                <span class="span-service">{span.service.clone()}</span>
                " "
                {span.name.clone()}
            </button>
            <div class="span-track">
                <div class="span-bar" style=format!("left: {}%; width: {}%", decimal(left, 100), decimal(width, 100))></div>
                <span class="span-duration">{micros_as_text(span.duration_micros)}</span>
            </div>
            {move || open.get().then(|| view! { <SpanDetails span=details.clone()/> })}
        </div>
    }
}

#[component]
fn SpanDetails(span: SpanView) -> impl IntoView {
    let events = span
        .events
        .into_iter()
        .map(|event| {
            let offset = event
                .time_unix_micros
                .saturating_sub(span.start_unix_micros);
            view! {
                <li>
                    <strong>{event.name}</strong>
                    " +"
                    {micros_as_text(offset)}
                    <Attributes attributes=event.attributes/>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="span-details">
            <p class="muted">
                {format!("{} span {} · status {}", span.kind, span.span_id, span.status)}
                {(!span.status_message.is_empty()).then(|| format!(": {}", span.status_message))}
            </p>
            <Attributes attributes=span.attributes/>
            <ul class="events">{events}</ul>
            <Attributes attributes=span.resource/>
        </div>
    }
}

#[component]
fn Attributes(attributes: Vec<Attribute>) -> impl IntoView {
    view! {
        <dl class="attributes">
            {attributes
                .into_iter()
                .map(|attribute| view! { <dt>{attribute.key}</dt><dd>{attribute.value}</dd> })
                .collect_view()}
        </dl>
    }
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use shared::traces::SpanKind;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn span(id: &str, parent: Option<&str>, start: u64) -> SpanView {
        SpanView {
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: id.into(),
            kind: SpanKind::Internal,
            service: FRONTEND_SERVICE_NAME.into(),
            start_unix_micros: start,
            duration_micros: 1,
            status: SpanStatus::Unset,
            status_message: String::new(),
            attributes: Vec::new(),
            events: Vec::new(),
            resource: Vec::new(),
        }
    }

    #[wasm_bindgen_test]
    fn the_waterfall_nests_children_under_parents_in_start_order() {
        // Ordered by start, as the API sends them; "orphan"'s parent is not in the trace.
        let spans = [
            span("click", None, 0),
            span("post", Some("click"), 1),
            span("server", Some("post"), 2),
            span("route", Some("click"), 3),
            span("orphan", Some("elsewhere"), 4),
        ];
        let rows: Vec<(usize, String)> = nested(&spans)
            .into_iter()
            .map(|(depth, span)| (depth, span.span_id))
            .collect();
        let expected = [
            (0, "click"),
            (1, "post"),
            (2, "server"),
            (1, "route"),
            (0, "orphan"),
        ];
        assert_eq!(rows, expected.map(|(depth, id)| (depth, id.to_owned())));
    }
}
