use std::process::ExitCode;
use std::sync::Arc;

use backend::configuration::Settings;
use backend::relay::Relay;
use backend::startup::{AppState, Application, StartupError, shutdown_signal};
use backend::telemetry;
use backend::trace_store::TraceStore;
use backend::xray::XrayRecorder;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("cruddur-backend: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Dropped last: flushes every queued span after the server has stopped.
    let local_traces = settings
        .local_traces
        .enabled
        .then(|| Arc::new(TraceStore::new(settings.local_traces.limits)));
    let telemetry = telemetry::init(&settings.telemetry, local_traces.clone());
    if local_traces.is_some() {
        let limits = settings.local_traces.limits;
        tracing::info!(
            max_traces = limits.max_traces,
            max_bytes = limits.max_bytes,
            "the local trace view keeps recent traces: open {}/traces",
            settings
                .frontend_origin
                .to_str()
                .unwrap_or("http://localhost:3000")
        );
    }
    match serve(&settings, telemetry.xray(), local_traces).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, port = settings.port, "stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    settings: &Settings,
    xray: Option<XrayRecorder>,
    local_traces: Option<Arc<TraceStore>>,
) -> Result<(), StartupError> {
    let telemetry = &settings.telemetry;
    let relay = Relay::start(
        telemetry
            .traces_endpoint
            .clone()
            .filter(|_| !telemetry.sdk_disabled),
        telemetry.headers.clone(),
    );
    let state = AppState::with_seed_data(xray, relay)?.with_local_traces(
        local_traces,
        settings.local_traces.honeycomb_trace_url.clone(),
    );
    let application =
        Application::build(settings.port, settings.frontend_origin.clone(), state).await?;
    Ok(application.run_until(shutdown_signal()).await?)
}
