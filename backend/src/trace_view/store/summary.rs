//! What the list shows of a trace: its summary, kept up to date span by span, and how its
//! root is told apart from others of its name.

use std::collections::HashSet;

use shared::traces::{self, MAX_ROUTES_LISTED, RouteReached, SpanStatus, TraceSummary};

use super::{Listed, RunningSummary, SpanAt, StoredSpan, StoredTrace, TraceId};
use crate::trace_format::hex;

impl StoredTrace {
    pub(super) fn listed(&self, trace_id: TraceId) -> Listed {
        let summary = &self.summary;
        let root = summary
            .roots
            .first()
            .map(|(_, SpanAt(batch, index))| &self.batches[*batch as usize][*index as usize]);
        Listed {
            trace_id,
            span_count: summary.span_count,
            dropped_spans: summary.dropped_spans,
            start: summary.start.unwrap_or_default(),
            end: summary.end,
            error: summary.error,
            root_name: root.map(|root| root.name.clone()).unwrap_or_default(),
            root_detail: root.map(root_detail).unwrap_or_default(),
            routes: summary.routes.clone(),
            resources: self
                .resources
                .iter()
                .cloned()
                .zip(summary.resource_starts.iter().copied())
                .collect(),
        }
    }
}

impl RunningSummary {
    pub(super) fn observe(&mut self, span: &StoredSpan, at: SpanAt) {
        let start = span.start_unix_micros;
        self.span_count += 1;
        self.start = Some(self.start.map_or(start, |earliest| earliest.min(start)));
        self.end = self.end.max(start.saturating_add(span.duration_micros));
        self.error |= span.status == SpanStatus::Error;
        if span.kind == traces::SpanKind::Server {
            self.reached(span);
        }
        if let Some(first) = self.resource_starts.get_mut(span.resource as usize) {
            *first = (*first).min(start);
        }
        if self.span_ids.insert(span.span_id)
            && let Some(children) = self.waiting_for_parent.remove(&span.span_id)
        {
            for child in children {
                self.roots.remove(&child);
            }
        }
        match span.parent_span_id {
            Some(parent) if self.span_ids.contains(&parent) => {}
            Some(parent) => {
                self.roots.insert((start, at));
                self.waiting_for_parent
                    .entry(parent)
                    .or_default()
                    .push((start, at));
            }
            None => {
                self.roots.insert((start, at));
            }
        }
    }

    /// Notes the route a SERVER span served: a browser's relayed spans are never SERVER spans,
    /// so these are the backend's.
    fn reached(&mut self, span: &StoredSpan) {
        let error = span.status == SpanStatus::Error;
        if let Some(known) = self.routes.iter_mut().find(|route| route.name == span.name) {
            known.error |= error;
        } else if self.routes.len() < MAX_ROUTES_LISTED {
            self.routes.push(RouteReached {
                name: span.name.clone(),
                error,
            });
        }
    }
}

/// The longest `root_detail`, in characters: a label, a path; not a page of text.
const MAX_ROOT_DETAIL_CHARS: usize = 80;

/// What tells a root apart from others of its name: a click's label in quotes, a route
/// change's destination, a fetch's path, a page load's path.
fn root_detail(root: &StoredSpan) -> String {
    let attribute = |key: &str| {
        root.attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .map(|attribute| attribute.value.as_str())
    };
    let detail = if let Some(label) = attribute("app.target.label") {
        format!("\"{label}\"")
    } else if let Some(to) = attribute("app.route.to") {
        to.to_owned()
    } else if let Some(url) = attribute("url.full") {
        path_of(url).to_owned()
    } else if root.kind == traces::SpanKind::Server {
        // Its name is already its method and route.
        String::new()
    } else {
        attribute("url.path").unwrap_or_default().to_owned()
    };
    detail.chars().take(MAX_ROOT_DETAIL_CHARS).collect()
}

/// `/api/activities` of `http://localhost:4567/api/activities?page=2`.
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

impl Listed {
    pub(super) fn into_summary(self) -> TraceSummary {
        let mut resources = self.resources;
        resources.sort_by_key(|(_, first_start)| *first_start);
        let mut seen = HashSet::new();
        let services: Vec<String> = resources
            .iter()
            .filter(|(resource, _)| seen.insert(resource.service.as_str()))
            .map(|(resource, _)| resource.service.clone())
            .collect();
        let browser_services = services
            .iter()
            .filter(|service| {
                resources
                    .iter()
                    .any(|(resource, _)| resource.browser && &resource.service == *service)
            })
            .cloned()
            .collect();
        TraceSummary {
            trace_id: hex(&self.trace_id),
            root_name: self.root_name,
            root_detail: self.root_detail,
            routes: self.routes,
            services,
            browser_services,
            start_unix_micros: self.start,
            duration_micros: self.end.saturating_sub(self.start),
            span_count: self.span_count,
            dropped_spans: self.dropped_spans,
            error: self.error,
        }
    }
}
