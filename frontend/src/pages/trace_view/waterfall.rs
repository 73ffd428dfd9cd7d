use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;
use shared::traces::{Attribute, ResourceView, SpanStatus, SpanView, TraceDetail};

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
        .map(|span| span.start_unix_micros.saturating_add(span.duration_micros))
        .max()
        .unwrap_or_default();
    let total = end.saturating_sub(start).max(1);
    // In hundredths of a percent: integers, as `format` writes them.
    let share = move |micros: u64| micros.saturating_mul(10_000) / total;
    // Each resource once, shared by the rows of its spans.
    let resources: Vec<Arc<ResourceView>> = trace.resources.into_iter().map(Arc::new).collect();
    let mut named = Vec::new();
    for resource in &resources {
        if !named.contains(&(resource.browser, resource.service.as_str())) {
            named.push((resource.browser, resource.service.as_str()));
        }
    }
    let legend = named
        .into_iter()
        .map(|(browser, service)| {
            let class = format!("service {}", service_class(browser));
            view! { <span class=class>{service.to_owned()}</span> }
        })
        .collect_view();
    let unknown = Arc::new(ResourceView {
        service: "unknown_service".into(),
        browser: false,
        attributes: Vec::new(),
    });
    let rows = nested(&trace.spans)
        .into_iter()
        .map(|(depth, span)| {
            let left = share(span.start_unix_micros.saturating_sub(start));
            let width = share(span.duration_micros).clamp(30, 10_000 - left.min(9_970));
            let resource = resources.get(span.resource).unwrap_or(&unknown).clone();
            view! { <SpanRow span=span.clone() resource depth left width/> }
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
            {trace
                .xray_url
                .map(|url| {
                    view! {
                        <dt>"X-Ray console"</dt>
                        <dd><a class="xray" href=url target="_blank" rel="noopener">"Open in X-Ray"</a></dd>
                    }
                })}
        </dl>
        <p class="legend">
            {legend}
            <span class="muted">{format!("{} in all", micros_as_text(end - start))}</span>
            {(trace.dropped_spans > 0)
                .then(|| {
                    view! {
                        <span class="muted">
                            {format!("{} spans past the store's cap not kept", trace.dropped_spans)}
                        </span>
                    }
                })}
        </p>
        <div class="waterfall">{rows}</div>
    }
}

/// Depth-first from the roots, children by start, each span once: linear in the spans whatever
/// their ids. A root is a span whose parent is not in the trace, or is itself; a span whose
/// parents loop back to it is drawn as a root too, where its loop is first met in start order.
/// Of spans that share an id, the first is the one children nest under.
fn nested(spans: &[SpanView]) -> Vec<(usize, &SpanView)> {
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(spans.len());
    for (index, span) in spans.iter().enumerate() {
        by_id.entry(span.span_id.as_str()).or_insert(index);
    }
    let parent = |index: usize| {
        spans[index]
            .parent_span_id
            .as_deref()
            .and_then(|parent| by_id.get(parent).copied())
            .filter(|parent| *parent != index)
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for index in 0..spans.len() {
        match parent(index) {
            Some(parent) => children[parent].push(index),
            None => roots.push(index),
        }
    }
    let mut visited = vec![false; spans.len()];
    let mut ordered = Vec::with_capacity(spans.len());
    let mut stack = Vec::new();
    // After the roots, what is left hangs from a loop of parents: each loop is drawn from its
    // earliest span.
    for first in roots.into_iter().chain(0..spans.len()) {
        stack.push((0, first));
        while let Some((depth, index)) = stack.pop() {
            if std::mem::replace(&mut visited[index], true) {
                continue;
            }
            ordered.push((depth, &spans[index]));
            // Children are in start order; pushed in reverse, the earliest comes out first.
            stack.extend(
                children[index]
                    .iter()
                    .rev()
                    .map(|child| (depth + 1, *child)),
            );
        }
    }
    ordered
}

/// Where a span's name goes beside its bar: after it when the bar ends early enough to leave
/// room on its right, else before it when it starts late enough, else over the bar itself.
fn name_place(left: u64, width: u64) -> (&'static str, String) {
    const ROOM: u64 = 4_000;
    if left + width <= 10_000 - ROOM {
        ("after", format!("left: {}%", decimal(left + width, 100)))
    } else if left >= ROOM {
        ("before", format!("right: {}%", decimal(10_000 - left, 100)))
    } else {
        ("over", format!("left: {}%", decimal(left, 100)))
    }
}

#[component]
fn SpanRow(
    span: SpanView,
    resource: Arc<ResourceView>,
    depth: usize,
    left: u64,
    width: u64,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let class = format!("span-row {}", service_class(resource.browser));
    let (place, name_style) = name_place(left, width);
    let details = span.clone();
    let details_resource = resource.clone();
    view! {
        <div class=class class:error=span.status == SpanStatus::Error>
            <button
                class="span-label"
                style=format!("padding-left: {}rem", decimal(depth as u64 * 11 + 4, 10))
                on:click=move |_| open.update(|open| *open = !*open)
            >
                <span class="span-service">{resource.service.clone()}</span>
                " "
                {span.name.clone()}
            </button>
            <div class="span-track">
                <div class="span-bar" style=format!("left: {}%; width: {}%", decimal(left, 100), decimal(width, 100))></div>
                <span class=format!("span-name {place}") style=name_style aria-hidden="true">{span.name.clone()}</span>
                <span class="span-duration">{micros_as_text(span.duration_micros)}</span>
            </div>
            {move || {
                open.get()
                    .then(|| {
                        view! { <SpanDetails span=details.clone() resource=details_resource.clone()/> }
                    })
            }}
        </div>
    }
}

#[component]
fn SpanDetails(span: SpanView, resource: Arc<ResourceView>) -> impl IntoView {
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
            <Attributes attributes=resource.attributes.clone()/>
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
            resource: 0,
            start_unix_micros: start,
            duration_micros: 1,
            status: SpanStatus::Unset,
            status_message: String::new(),
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    fn rows(spans: &[SpanView]) -> Vec<(usize, &str)> {
        nested(spans)
            .into_iter()
            .map(|(depth, span)| (depth, span.name.as_str()))
            .collect()
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
        assert_eq!(
            rows(&spans),
            [
                (0, "click"),
                (1, "post"),
                (2, "server"),
                (1, "route"),
                (0, "orphan"),
            ]
        );
    }

    #[wasm_bindgen_test]
    fn spans_that_share_an_id_are_each_drawn_once() {
        let mut twin = span("a", None, 2);
        twin.name = "a again".into();
        let spans = [span("a", None, 0), span("b", Some("a"), 1), twin];
        assert_eq!(rows(&spans), [(0, "a"), (1, "b"), (0, "a again")]);
    }

    #[wasm_bindgen_test]
    fn a_span_that_is_its_own_parent_is_a_root() {
        let spans = [
            span("self", Some("self"), 0),
            span("child", Some("self"), 1),
        ];
        assert_eq!(rows(&spans), [(0, "self"), (1, "child")]);
    }

    #[wasm_bindgen_test]
    fn a_two_span_cycle_is_drawn_once_from_its_earliest_span() {
        let spans = [
            span("root", None, 0),
            span("a", Some("b"), 1),
            span("b", Some("a"), 2),
        ];
        assert_eq!(rows(&spans), [(0, "root"), (0, "a"), (1, "b")]);
    }

    #[wasm_bindgen_test]
    fn a_chain_of_ten_thousand_spans_nests_to_its_end() {
        let spans: Vec<SpanView> = (0..10_000u64)
            .map(|index| {
                let parent = index.checked_sub(1).map(|parent| parent.to_string());
                span(&index.to_string(), parent.as_deref(), index)
            })
            .collect();
        let nested = nested(&spans);
        assert_eq!(nested.len(), 10_000);
        assert_eq!(nested[9_999].0, 9_999);
        assert_eq!(nested[9_999].1.span_id, "9999");
    }

    #[wasm_bindgen_test]
    fn a_name_goes_where_its_bar_leaves_room() {
        assert_eq!(name_place(0, 1_000).0, "after");
        assert_eq!(name_place(8_000, 1_500).0, "before");
        assert_eq!(name_place(0, 10_000).0, "over");
    }
}
