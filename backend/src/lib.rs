pub mod configuration;
pub mod error;
pub mod repository;
pub mod routes;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
