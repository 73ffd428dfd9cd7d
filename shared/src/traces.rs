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
    /// What tells the root apart from others of its name, empty when nothing does: a click's
    /// label in quotes (`"Crud"`), a route change's path, a fetch's path, a page load's path.
    #[serde(default)]
    pub root_detail: String,
    /// The backend's routes the trace reached (its SERVER spans' names), each once, in the
    /// order they arrived, at most `MAX_ROUTES_LISTED`.
    #[serde(default)]
    pub routes: Vec<RouteReached>,
    /// Every `service.name` with a span in the trace, in order of first appearance.
    pub services: Vec<String>,
    /// Those of `services` whose spans a browser sent through the relay.
    pub browser_services: Vec<String>,
    pub start_unix_micros: u64,
    pub duration_micros: u64,
    pub span_count: usize,
    /// Spans that arrived past the store's caps for this trace and were not kept.
    pub dropped_spans: u64,
    /// Some span has an ERROR status.
    pub error: bool,
}

/// A backend route a trace reached: `POST /api/activities`, and whether it failed there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReached {
    pub name: String,
    pub error: bool,
}

/// The most routes a trace's line names: a trace that reaches more is a batch job, not a click.
pub const MAX_ROUTES_LISTED: usize = 8;

/// A whole trace, for its waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceDetail {
    pub trace_id: String,
    /// The same trace in AWS X-Ray's form: `1-<8 hex>-<24 hex>`.
    pub xray_trace_id: String,
    /// The same trace in Honeycomb, when the backend knows where its traces live there.
    pub honeycomb_url: Option<String>,
    /// The same trace in AWS X-Ray's console, when X-Ray is on and its region known.
    #[serde(default)]
    pub xray_url: Option<String>,
    /// The resources the spans came from, each once: many spans share one.
    pub resources: Vec<ResourceView>,
    /// Ordered by start time.
    pub spans: Vec<SpanView>,
    /// Spans that arrived past the store's caps for this trace and were not kept.
    pub dropped_spans: u64,
}

/// What made a trace's spans: a service, in one process or one browser tab.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceView {
    /// Its `service.name`.
    pub service: String,
    /// A browser's, relayed: the relay marks each such resource `cruddur.relayed`, whatever
    /// `service.name` the deployment gives the frontend.
    pub browser: bool,
    /// Its other attributes (`session.id`, `user_agent.original`).
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    /// Its resource's index in the trace's `resources`.
    pub resource: usize,
    pub start_unix_micros: u64,
    pub duration_micros: u64,
    pub status: SpanStatus,
    pub status_message: String,
    pub attributes: Vec<Attribute>,
    pub events: Vec<SpanEvent>,
}

/// What a span is to its trace, as OTLP names it; lowercase on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// The name the API writes: `server`, `client`, `internal`, `producer` or `consumer`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// How a span ended, as OTLP's status code names it; lowercase on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    Unset,
    Ok,
    Error,
}

impl SpanStatus {
    /// The name the API writes: `unset`, `ok` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Unset => "unset",
            SpanStatus::Ok => "ok",
            SpanStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for SpanKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::fmt::Display for SpanStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A kind equals its name on the wire, so a reader of the JSON compares it with what it reads.
impl PartialEq<&str> for SpanKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// A status equals its name on the wire, so a reader of the JSON compares it with what it reads.
impl PartialEq<&str> for SpanStatus {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_micros: u64,
    pub attributes: Vec<Attribute>,
}

/// An attribute with its value as text (`200`, `true`, `GET`, `[a, b]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The W3C form (32 lowercase hex digits) of a trace id pasted from anywhere: a W3C id, an
/// X-Ray id (`1-5759e988-bd862e3fe1be46a994272793`), or an `X-Amzn-Trace-Id` header's value
/// (`Root=1-…;Parent=…;Sampled=1`).
pub fn w3c_trace_id(pasted: &str) -> Option<String> {
    let pasted = pasted.trim();
    let root = pasted.strip_prefix("Root=").unwrap_or(pasted);
    let root = root.split(';').next().unwrap_or_default();
    let digits = match root.strip_prefix("1-") {
        Some(xray) => match xray.split_once('-') {
            Some((time, random)) if time.len() == 8 && random.len() == 24 => {
                [time, random].concat()
            }
            _ => return None,
        },
        None => root.to_owned(),
    };
    let valid = digits.len() == 32
        && digits.bytes().all(|byte| byte.is_ascii_hexdigit())
        && digits.bytes().any(|byte| byte != b'0');
    valid.then(|| digits.to_ascii_lowercase())
}

/// Enough of a trace id to tell traces apart: its last 8 hex digits. X-Ray-compatible ids begin
/// with the epoch second, which every trace of that second shares; their end is random.
pub fn short_trace_id(trace_id: &str) -> &str {
    trace_id
        .char_indices()
        .rev()
        .nth(7)
        .map_or(trace_id, |(start, _)| &trace_id[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

    #[test]
    fn an_xray_trace_id_splits_the_time_from_the_rest() {
        assert_eq!(
            xray_trace_id("5759e988bd862e3fe1be46a994272793").as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(xray_trace_id("not-a-trace-id"), None);
    }

    #[test]
    fn a_trace_id_is_found_from_its_w3c_form_its_xray_form_or_an_xray_header() {
        let w3c = "5759e988bd862e3fe1be46a994272793";
        for pasted in [
            w3c,
            "  5759E988BD862E3FE1BE46A994272793\n",
            "1-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ] {
            assert_eq!(w3c_trace_id(pasted).as_deref(), Some(w3c), "{pasted:?}");
        }
        for refused in [
            "",
            "5759e988",
            "1-5759e988-bd862e3f",
            "1-5759e98-8bd862e3fe1be46a994272793",
            "00000000000000000000000000000000",
            "5759e988bd862e3fe1be46a99427279g",
            "1-5759e988-bd862e3fe1be46a994272793-extra",
        ] {
            assert_eq!(w3c_trace_id(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn a_short_trace_id_is_the_random_end_not_the_epoch_second() {
        assert_eq!(
            short_trace_id("6b14227fbd862e3fe1be46a994272793"),
            "94272793"
        );
        assert_eq!(short_trace_id("abc"), "abc");
    }

    /// `value` is read from `name`, as `/api/traces` writes it, and displays as it.
    fn reads_as<'de, T>(value: T, name: &'de str)
    where
        T: Deserialize<'de> + std::fmt::Display + std::fmt::Debug + PartialEq,
    {
        use serde::de::IntoDeserializer as _;
        use serde::de::value::{Error, StrDeserializer};

        let wire: StrDeserializer<'de, Error> = name.into_deserializer();
        assert_eq!(T::deserialize(wire), Ok(value));
        assert_eq!(T::deserialize(wire).unwrap().to_string(), name);
    }

    #[test]
    fn kinds_and_statuses_are_read_from_their_lowercase_names() {
        reads_as(SpanKind::Internal, "internal");
        reads_as(SpanKind::Server, "server");
        reads_as(SpanKind::Client, "client");
        reads_as(SpanKind::Producer, "producer");
        reads_as(SpanKind::Consumer, "consumer");
        reads_as(SpanStatus::Unset, "unset");
        reads_as(SpanStatus::Ok, "ok");
        reads_as(SpanStatus::Error, "error");
    }

    #[test]
    fn filters_select_by_service_errors_and_duration() {
        let summary = TraceSummary {
            trace_id: "0".repeat(32),
            root_name: "click".into(),
            root_detail: "\"Crud\"".into(),
            routes: Vec::new(),
            services: vec![FRONTEND_SERVICE_NAME.into(), BACKEND_SERVICE_NAME.into()],
            browser_services: vec![FRONTEND_SERVICE_NAME.into()],
            start_unix_micros: 0,
            duration_micros: 25_000,
            span_count: 3,
            dropped_spans: 0,
            error: false,
        };
        assert!(summary.matches(&TraceFilter::default()));
        let backend = TraceFilter {
            service: Some(BACKEND_SERVICE_NAME.into()),
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
