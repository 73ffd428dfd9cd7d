//! How the trace view looks: its stylesheet, and the colour each service's spans take.

use shared::{BACKEND_SERVICE_NAME, FRONTEND_SERVICE_NAME};

/// The trace view's styles travel with its pages, so builds without them leave them out too.
pub const TRACE_VIEW_STYLE: &str = include_str!("../../../style/traces.css");

/// Browser and server in distinct colours; any other service in a third.
pub fn service_class(service: &str) -> &'static str {
    match service {
        FRONTEND_SERVICE_NAME => "browser",
        BACKEND_SERVICE_NAME => "server",
        _ => "other",
    }
}
