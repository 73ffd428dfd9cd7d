pub mod configuration;
pub mod error;
pub mod outbound;
pub mod repository;
pub mod request_tracing;
pub mod routes;
pub mod startup;
pub mod telemetry;
