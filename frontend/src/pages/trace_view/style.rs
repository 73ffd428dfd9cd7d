//! How the trace view looks: its stylesheet, and the colour each service's spans take.

/// The trace view's styles travel with its pages, so builds without them leave them out too.
pub const TRACE_VIEW_STYLE: &str = include_str!("../../../style/traces.css");

/// Browser and server in distinct colours, told apart by where the spans came from (the relay
/// marks a browser's), not by the services' names, which each deployment chooses.
pub fn service_class(browser: bool) -> &'static str {
    if browser { "browser" } else { "server" }
}
