//! The API, spoken to over real HTTP: the server in-process on port 0 for behaviour, and the
//! real binary as a child process for telemetry (environment, export, signals).

mod activities;
mod aws_resources;
mod browser;
mod browser_telemetry;
mod browser_trace_list;
mod browser_vitals;
mod database_faults;
mod database_spans;
mod databases;
mod expiry;
mod exporter_faults;
mod failures;
mod health;
mod health_check;
mod helpers;
mod honeycomb_links;
mod http_surface;
mod messages;
mod otlp_protocols;
mod pagination;
mod persistence;
mod read_budget;
mod relay;
mod relay_hostile;
mod shutdown;
mod sigv4;
mod static_server;
mod telemetry;
mod trace_context;
mod trace_ids;
mod traces;
mod untrusted_input;
mod write_budget;
mod xray;
mod xray_otlp;
