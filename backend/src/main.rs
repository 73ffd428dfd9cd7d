use std::process::ExitCode;

use backend::configuration::Settings;
use backend::startup::{AppState, Application, StartupError, shutdown_signal};
use backend::telemetry;

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
    let _telemetry = telemetry::init(&settings.telemetry);
    match serve(&settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, port = settings.port, "stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings) -> Result<(), StartupError> {
    let application = Application::build(settings, AppState::with_seed_data()?).await?;
    Ok(application.run_until(shutdown_signal()).await?)
}
