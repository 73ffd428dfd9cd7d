//! The local trace view's API (GET `/api/traces`, GET `/api/traces/{trace_id}`): recent traces
//! as the backend keeps them, its own spans and the browser's together. Times are Unix
//! microseconds, which a JavaScript number holds exactly (nanoseconds it does not).

use serde::{Deserialize, Serialize};

/// One line of the trace list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: String,
    /// The span without a parent in this trace (the earliest, if several); its name.
    pub root_name: String,
    /// Every `service.name` with a span in the trace, in order of first appearance.
    pub services: Vec<String>,
    pub start_unix_micros: u64,
    pub duration_micros: u64,
    pub span_count: usize,
    /// Some span has an ERROR status.
    pub error: bool,
}

/// A whole trace, for its waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceDetail {
    pub trace_id: String,
    /// The same trace in AWS X-Ray's form: `1-<8 hex>-<24 hex>`.
    pub xray_trace_id: String,
    /// The same trace in Honeycomb, when the backend was told where its traces live there.
    pub honeycomb_url: Option<String>,
    /// Ordered by start time.
    pub spans: Vec<SpanView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// `server`, `client`, `internal`, `producer` or `consumer`.
    pub kind: String,
    pub service: String,
    pub start_unix_micros: u64,
    pub duration_micros: u64,
    /// `unset`, `ok` or `error`.
    pub status: String,
    pub status_message: String,
    pub attributes: Vec<Attribute>,
    pub events: Vec<SpanEvent>,
    /// The resource's attributes other than `service.name` (`session.id`, `user_agent.original`).
    pub resource: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_micros: u64,
    pub attributes: Vec<Attribute>,
}

/// An attribute with its value as text (`200`, `true`, `GET`, `[a, b]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

/// Filters of the trace list: GET `/api/traces?service=…&errors=true&min_duration_ms=…`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceFilter {
    pub service: Option<String>,
    #[serde(default)]
    pub errors: bool,
    pub min_duration_ms: Option<u64>,
}

impl TraceSummary {
    pub fn matches(&self, filter: &TraceFilter) -> bool {
        filter
            .service
            .as_ref()
            .is_none_or(|service| self.services.contains(service))
            && (!filter.errors || self.error)
            && filter
                .min_duration_ms
                .is_none_or(|min| self.duration_micros >= min * 1000)
    }
}

/// `1-5759e988-bd862e3fe1be46a994272793` for W3C trace id `5759e988bd862e3fe1be46a994272793`.
pub fn xray_trace_id(trace_id: &str) -> Option<String> {
    let valid = trace_id.len() == 32 && trace_id.bytes().all(|byte| byte.is_ascii_hexdigit());
    valid.then(|| format!("1-{}-{}", &trace_id[..8], &trace_id[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xray_trace_id_splits_the_time_from_the_rest() {
        assert_eq!(
            xray_trace_id("5759e988bd862e3fe1be46a994272793").as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(xray_trace_id("not-a-trace-id"), None);
    }

    #[test]
    fn filters_select_by_service_errors_and_duration() {
        let summary = TraceSummary {
            trace_id: "0".repeat(32),
            root_name: "click".into(),
            services: vec!["cruddur-frontend".into(), "cruddur-backend".into()],
            start_unix_micros: 0,
            duration_micros: 25_000,
            span_count: 3,
            error: false,
        };
        assert!(summary.matches(&TraceFilter::default()));
        let backend = TraceFilter {
            service: Some("cruddur-backend".into()),
            ..Default::default()
        };
        assert!(summary.matches(&backend));
        let other = TraceFilter {
            service: Some("billing".into()),
            ..Default::default()
        };
        assert!(!summary.matches(&other));
        let errors = TraceFilter {
            errors: true,
            ..Default::default()
        };
        assert!(!summary.matches(&errors));
        let slow = TraceFilter {
            min_duration_ms: Some(26),
            ..Default::default()
        };
        assert!(!summary.matches(&slow));
        let fast_enough = TraceFilter {
            min_duration_ms: Some(25),
            ..Default::default()
        };
        assert!(summary.matches(&fast_enough));
    }
}
