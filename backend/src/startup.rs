//! Building the application from its settings: the state wired to what telemetry made, the
//! router with its layers (every area's router merged here), bound to a port, served until a
//! shutdown signal. Telemetry itself is installed once per process, by `main`, and only its
//! handles come here, so the tests build the application the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;

use crate::clients::read_budget::{ReadBudget, limit_reads};
use crate::clients::write_budget::{WriteBudget, limit_writes};
use crate::configuration::{DEFAULT_FRONTEND_URL, Settings};
use crate::database::{Database, DatabaseError};
use crate::error::ApiError;
use crate::maintenance::{self, Maintenance};
use crate::readiness::Readiness;
use crate::relay::{self, Relay, RelayConfig, RelayToXray};
use crate::repository::{Repository, RepositoryError, SqlRepository};
use crate::routes::{self, activities, dev, health, messages};
use crate::state::AppState;
use crate::telemetry;
use crate::telemetry::request_tracing::{RequestTracing, TRACERESPONSE, trace_request};
use crate::telemetry::xray::X_AMZN_TRACE_ID;
use crate::trace_view::store::TraceStore;
use crate::trace_view::{self, TraceView};

/// The largest API request body; the longest valid one (a 1024-character message) is far smaller.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What `main` made before the application: telemetry's handles, and the local trace view's
/// store, which telemetry feeds. All off by default, as the tests build the application.
#[derive(Clone, Default)]
pub struct TelemetryHandles {
    pub telemetry: telemetry::Handles,
    /// The local trace view's store, when the view is on.
    pub local_traces: Option<Arc<TraceStore>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot build the outbound HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("cannot serve: {0}")]
    Serve(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("cannot insert the seed data: {0}")]
    Seed(#[from] RepositoryError),
    #[error("cannot fold the stored messages for search: {0}")]
    FoldMessages(RepositoryError),
}

/// The whole HTTP surface, without a listener, so tests can call it directly. `dev_endpoints`
/// adds the development tools' endpoints (`CRUDDUR_DEV_ENDPOINTS`).
pub fn app(state: AppState, frontend_origin: HeaderValue, dev_endpoints: bool) -> Router {
    let mut api = Router::new()
        .merge(activities::router())
        .merge(messages::router())
        .layer(middleware::from_fn_with_state(
            state.write_budget.clone(),
            limit_writes,
        ))
        .layer(middleware::from_fn_with_state(
            state.read_budget.clone(),
            limit_reads,
        ));
    // After the budgets: the dev endpoints serve this machine only, and spend none of them.
    if dev_endpoints {
        api = api.merge(dev::router());
    }
    let traced = api
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Inside the request span, so a panic is recorded as the 500 it becomes.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state.request_tracing.clone(),
            trace_request,
        ));
    // None makes spans: health checks are noise, relaying spans must not make more, and the
    // trace view would fill itself with its own polling.
    traced
        .route("/api/health", get(health::health))
        .route("/api/health/relay", get(health::relay_counts))
        .route("/api/health/ready", get(health::ready))
        .merge(relay::router())
        .merge(trace_view::router())
        .with_state(state)
        // Outermost: preflights are answered here and make no spans of their own.
        .layer(cors(frontend_origin))
}

/// Records the panic on the request's span as an `exception` event (what X-Ray's `cause`
/// shows) and answers 500 like any internal error.
fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a request handler panicked".to_owned());
    tracing::error!(exception.type = "panic", exception.message = %message, "exception");
    ApiError::Internal(message).into_response()
}

/// Only the frontend's origin may call; the trace headers must pass the preflight, or the
/// browser's spans never join the backend's.
fn cors(frontend_origin: HeaderValue) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(frontend_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
            HeaderName::from_static("baggage"),
            X_AMZN_TRACE_ID,
        ])
        // Retry-After, so the browser's exporter can wait as long as a 429 or 503 asks.
        .expose_headers([TRACERESPONSE, X_AMZN_TRACE_ID, header::RETRY_AFTER])
}

pub struct Application {
    listener: TcpListener,
    readiness: Readiness,
    router: Router,
    relay: Relay,
    shutdown_timeout: Duration,
    drain_delay: Duration,
    repository: Arc<dyn Repository>,
    maintenance: Maintenance,
}

/// How long the relay may spend sending its queue after the server stopped. With the request
/// deadline, the database's close (`DATABASE_CLOSE_DEADLINE`) and the exporters' flush
/// (`telemetry::FLUSH_DEADLINE`), the default exit fits in Docker's 10 s grace period.
const RELAY_DRAIN_DEADLINE: Duration = Duration::from_millis(1500);
/// How long the maintenance task and the requests' database connections in use may take to
/// finish once the server stopped; they run side by side.
const DATABASE_CLOSE_DEADLINE: Duration = Duration::from_millis(400);

impl Application {
    /// Wires the application to what telemetry made (`telemetry`: X-Ray's request side and the
    /// local trace store) and binds `settings.bind` on `settings.port` (0: any free one).
    /// Call inside the runtime: the relay forwards on it.
    pub async fn build(
        settings: &Settings,
        telemetry: TelemetryHandles,
    ) -> Result<Self, StartupError> {
        let TelemetryHandles {
            telemetry,
            local_traces,
        } = telemetry;
        let relay = Relay::start(RelayConfig {
            destination: telemetry.destinations.traces.clone(),
            xray: telemetry
                .destinations
                .xray_share
                .clone()
                .zip(telemetry.xray.clone())
                .map(|(destination, recorder)| RelayToXray {
                    destination,
                    recorder,
                }),
            frontend_service_name: settings.relay.frontend_service_name.clone(),
            budgets: settings.relay.budgets,
            trusted_proxies: settings.trusted_proxies.clone(),
            local_traces: local_traces.clone(),
        });
        if local_traces.is_some() {
            let limits = settings.local_traces.limits;
            tracing::info!(
                max_traces = limits.max_traces,
                max_bytes = limits.max_bytes,
                max_spans_per_trace = limits.max_spans_per_trace,
                "the local trace view keeps recent traces: open {}/traces",
                settings
                    .frontend_origin
                    .to_str()
                    .unwrap_or(DEFAULT_FRONTEND_URL)
            );
            if !settings.bind.is_loopback() {
                tracing::warn!(
                    bind = %settings.bind,
                    port = settings.port,
                    "the local trace view is on and listens beyond this machine: anyone who can \
                     reach this address and port reads every user's requests (search terms, \
                     addresses, user agents, message recipients); set CRUDDUR_BIND=127.0.0.1, \
                     or CRUDDUR_LOCAL_TRACES=off"
                );
            }
        }
        let trace_view = TraceView::new(local_traces, &settings.local_traces, &settings.telemetry)?;
        let request_tracing = RequestTracing {
            xray: telemetry.xray,
            trusted_proxies: settings.trusted_proxies.clone(),
        };
        let database = Database::open(&settings.database.location).await?;
        let write_budget = WriteBudget::for_database(
            &database,
            settings.write_budget,
            settings.trusted_proxies.clone(),
        );
        let repository = SqlRepository::new(database);
        let folded = repository
            .fold_old_messages()
            .await
            .map_err(StartupError::FoldMessages)?;
        if folded > 0 {
            tracing::info!(folded, "the stored cruds' messages are folded for search");
        }
        if settings.database.seed_data
            && repository.seed_if_empty(OffsetDateTime::now_utc()).await?
        {
            tracing::info!(
                "the empty database got the seed data (CRUDDUR_SEED_DATA=off to leave it empty)"
            );
        }
        let repository: Arc<dyn Repository> = Arc::new(repository);
        let read_budget = ReadBudget::new(
            settings.read_budget,
            settings.search_budget,
            settings.trusted_proxies.clone(),
        );
        let maintenance = Maintenance::start(
            repository.clone(),
            write_budget.clone(),
            read_budget.clone(),
            maintenance::PERIOD,
        );
        let state = AppState::new(
            repository.clone(),
            request_tracing,
            relay.clone(),
            trace_view,
            write_budget,
            read_budget,
        )?;
        let listener = TcpListener::bind((settings.bind, settings.port)).await?;
        let readiness = state.readiness.clone();
        let router = app(
            state,
            settings.frontend_origin.clone(),
            settings.dev_endpoints,
        );
        Ok(Application {
            listener,
            readiness,
            router,
            relay,
            shutdown_timeout: settings.shutdown_timeout,
            drain_delay: settings.drain_delay,
            repository,
            maintenance,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or_default()
    }

    /// Serves until `shutdown` resolves, then answers not ready (`/api/health/ready`) while it
    /// serves on for the drain delay, so a load balancer stops sending before the listener
    /// closes; then stops accepting, lets in-flight requests finish for at most the shutdown
    /// timeout (a slow client can't hold the exit), closes the database, and sends the relay's
    /// queue on. Each step has its own deadline. The exporters flush after this returns, when
    /// `main` drops telemetry.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self.listener.local_addr() {
            Ok(address) => tracing::info!("listening on http://{address}"),
            Err(error) => tracing::warn!(%error, "listening, on an address the system won't tell"),
        }
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stopping, stopped) = tokio::sync::oneshot::channel();
        let (readiness, drain_delay) = (self.readiness, self.drain_delay);
        let server = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            readiness.drain(drain_delay).await;
            let _ = stopping.send(());
        });
        let deadline = async {
            match stopped.await {
                Ok(()) => tokio::time::sleep(self.shutdown_timeout).await,
                Err(_) => std::future::pending().await,
            }
        };
        let cut_off = tokio::select! {
            served = server => {
                served?;
                false
            }
            () = deadline => true,
        };
        // The requests cut off still run until the process ends: the database refuses them
        // from here on, and the writes already under way finish before the line says so.
        let (_, closed) = tokio::join!(
            self.maintenance.stop(DATABASE_CLOSE_DEADLINE),
            tokio::time::timeout(DATABASE_CLOSE_DEADLINE, self.repository.close()),
        );
        match (cut_off, closed) {
            (true, Ok(())) => tracing::warn!(
                timeout = ?self.shutdown_timeout,
                "requests still in flight at the shutdown deadline are cut off: none of them \
                 can write from now on"
            ),
            (_, Err(_)) => tracing::warn!(
                deadline = ?DATABASE_CLOSE_DEADLINE,
                "database connections still in use at the shutdown deadline: a write of theirs \
                 under way may still commit before the process ends"
            ),
            (false, Ok(())) => {}
        }
        self.relay.drain(RELAY_DRAIN_DEADLINE).await;
        Ok(())
    }
}

/// Ctrl-C or SIGTERM (what `docker stop` and orchestrators send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests and flushing spans");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::testing::capture_spans;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_records_the_panic_on_its_span() {
        let (exporter, _default) = capture_spans();
        let router = Router::new()
            .route(
                "/api/boom",
                get(|| async {
                    if true {
                        panic!("the replicator is broken");
                    }
                    "unreachable"
                }),
            )
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn_with_state(
                RequestTracing::default(),
                trace_request,
            ));
        let request = Request::get("/api/boom").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);

        let spans = exporter.get_finished_spans().unwrap();
        let server = spans
            .iter()
            .find(|span| span.name == "GET /api/boom")
            .unwrap();
        let exception = server
            .events
            .iter()
            .find(|event| event.name == "exception")
            .expect("an exception event");
        let message = exception
            .attributes
            .iter()
            .find(|attribute| attribute.key.as_str() == "exception.message")
            .map(|attribute| attribute.value.to_string());
        assert_eq!(message.as_deref(), Some("the replicator is broken"));
    }
}
