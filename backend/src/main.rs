use std::process::ExitCode;

use backend::configuration::Settings;
use backend::health_check;
use backend::startup::TelemetryHandles;
use backend::startup::{Application, StartupError, shutdown_signal};
use backend::telemetry;
use backend::trace_view::{self, store::StoreExporter};
use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{DEFAULT_SERVICE_NAME}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().nth(1).as_deref() == Some(health_check::COMMAND) {
        return match health_check::check(&settings).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("{DEFAULT_SERVICE_NAME}: unhealthy: {problem}");
                ExitCode::FAILURE
            }
        };
    }
    // Dropped last: flushes every queued span after the server has stopped.
    let local_traces = trace_view::store(&settings.local_traces);
    let telemetry = telemetry::init(
        &settings.telemetry,
        local_traces.clone().map(StoreExporter::new),
    );
    let handles = TelemetryHandles {
        telemetry: telemetry.handles(),
        local_traces,
    };
    match serve(&settings, handles).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, port = settings.port, "stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings, telemetry: TelemetryHandles) -> Result<(), StartupError> {
    let application = Application::build(settings, telemetry).await?;
    Ok(application.run_until(shutdown_signal()).await?)
}
