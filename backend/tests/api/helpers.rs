use std::io::Read as _;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use backend::configuration::Settings;
use backend::startup::{Application, TelemetryHandles};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;

use crate::databases::TestDatabase;

pub const FRONTEND_ORIGIN: &str = "http://localhost:3000";
/// Batches exported every 20 ms, so a test sees its spans at once.
pub const QUICK_EXPORT: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "20");
/// Local X-Ray sampling rules that keep every trace, or none.
pub const SAMPLE_ALL: &str = r#"{"version": 2, "default": {"fixed_target": 0, "rate": 1.0}}"#;
pub const SAMPLE_NONE: &str = r#"{"version": 2, "default": {"fixed_target": 0, "rate": 0.0}}"#;

/// The segment documents among what the X-Ray daemon received (subsegment documents have a type).
pub fn segments(documents: &[Json]) -> Vec<&Json> {
    documents
        .iter()
        .filter(|document| document.get("type").is_none())
        .collect()
}

pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The application served in this process on a free port, with telemetry off, keeping its
/// SQLite file in a directory of its own, removed when the app is dropped.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Held for the app's lifetime: a SQLite directory goes when dropped.
    _database: TestDatabase,
}

/// The app on a SQLite file of its own.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDatabase::sqlite()).await
}

pub async fn spawn_app_on(database: TestDatabase) -> TestApp {
    let (database_variable, database_value) = database.env();
    let settings = Settings::from_lookup(|name| {
        let value = match name {
            "PORT" => "0",
            "FRONTEND_URL" => FRONTEND_ORIGIN,
            "OTEL_SDK_DISABLED" => "true",
            "CRUDDUR_LOCAL_TRACES" => "off",
            // The tests post and read far more than a person would.
            "CRUDDUR_WRITE_BUDGET" | "CRUDDUR_READ_BUDGET" | "CRUDDUR_SEARCH_BUDGET" => "100000",
            name if name == database_variable => &database_value,
            _ => return None,
        };
        Some(value.to_owned())
    })
    .expect("the test settings are valid");
    TestApp {
        address: serve_in_process(&settings).await,
        client: reqwest::Client::new(),
        _database: database,
    }
}

/// An app's settings on `database`, on a free loopback port with telemetry off, with `extra` on
/// top.
pub fn in_process_settings(database: &TestDatabase, extra: &[(&str, &str)]) -> Settings {
    let (variable, value) = database.env();
    Settings::from_lookup(|name| {
        if name == variable {
            return Some(value.clone());
        }
        let value = match name {
            "PORT" => "0",
            "CRUDDUR_BIND" => "127.0.0.1",
            "OTEL_SDK_DISABLED" => "true",
            name => extra.iter().find(|(key, _)| *key == name)?.1,
        };
        Some(value.to_owned())
    })
    .expect("the test settings are valid")
}

/// A 429's `Retry-After`, in whole seconds.
pub fn retry_after_seconds(refused: &reqwest::Response) -> u64 {
    refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The app with `settings` in this process, serving until the test ends; its address.
pub async fn serve_in_process(settings: &Settings) -> String {
    let application = Application::build(settings, TelemetryHandles::default())
        .await
        .expect("the application binds a free port");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until(std::future::pending()));
    address
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn get_json(&self, path: &str) -> Json {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// The items of the page of a list at `path`.
    pub async fn get_items(&self, path: &str) -> Json {
        let page = self.get_json(path).await;
        assert!(page["items"].is_array(), "a page at {path}: {page}");
        page["items"].clone()
    }

    /// How many items the page of a list at `path` holds.
    pub async fn count(&self, path: &str) -> usize {
        self.get_items(path).await.as_array().unwrap().len()
    }

    pub async fn post_json(&self, path: &str, body: &Json) -> reqwest::Response {
        self.post_raw(path, "application/json", body.to_string())
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }
}

/// Asserts a 4xx answer in the API's error format and returns its codes.
pub async fn error_codes(response: reqwest::Response, status: u16) -> Vec<String> {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "errors are JSON"
    );
    let body: Json = response.json().await.unwrap();
    body["errors"]
        .as_array()
        .expect("an errors array")
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect()
}

/// The `backend` binary as a child process, on a free port, with the given environment; its
/// SQLite file in a directory of its own unless `envs` say otherwise.
pub struct BackendProcess {
    child: Child,
    pub address: String,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    /// Held for the process's lifetime, unless `envs` put the database elsewhere.
    _data_dir: tempfile::TempDir,
}

/// The backend's binary, blind to this shell's telemetry and AWS settings.
pub fn backend_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backend"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") || name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
}

pub async fn spawn_backend(envs: &[(&str, &str)]) -> BackendProcess {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let mut command = backend_command();
    command
        .env("PORT", "0")
        .env("CRUDDUR_BIND", "127.0.0.1")
        .env("RUST_LOG", "info")
        .env("CRUDDUR_DATA_DIR", data_dir.path())
        // The tests read far more than a person would; a test of the budgets sets its own.
        .env("CRUDDUR_READ_BUDGET", "100000")
        .env("CRUDDUR_SEARCH_BUDGET", "100000")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the backend binary starts");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (port_sender, port_receiver) = tokio::sync::oneshot::channel();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = stderr.clone();
    tokio::spawn(async move {
        let mut port_sender = Some(port_sender);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.split("listening on http://").nth(1)
                && let Some((_, port)) = address.trim().rsplit_once(':')
                && let Some(sender) = port_sender.take()
            {
                let _ = sender.send(port.parse::<u16>().unwrap());
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let port = tokio::time::timeout(Duration::from_secs(30), port_receiver)
        .await
        .expect("the backend says where it listens")
        .expect("the backend says where it listens");
    BackendProcess {
        child,
        address: format!("http://127.0.0.1:{port}"),
        port,
        stderr,
        _data_dir: data_dir,
    }
}

/// The binary sending every trace to an OTLP receiver and an X-Ray daemon of the test's own,
/// with `extra` variables.
pub async fn spawn_traced_backend(
    extra: &[(&str, &str)],
) -> (OtlpReceiver, FakeXrayDaemon, BackendProcess) {
    let receiver = OtlpReceiver::start().await;
    let daemon = FakeXrayDaemon::start().await;
    let mut envs = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
        ("AWS_XRAY_SAMPLING_RULES", SAMPLE_ALL),
        QUICK_EXPORT,
    ];
    envs.extend_from_slice(extra);
    let backend = spawn_backend(&envs).await;
    (receiver, daemon, backend)
}

/// The binary exporting its spans (and relaying the browser's) to `endpoint`, X-Ray off.
pub async fn spawn_backend_exporting_to(endpoint: &str, extra: &[(&str, &str)]) -> BackendProcess {
    let mut envs = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ];
    envs.extend_from_slice(extra);
    spawn_backend(&envs).await
}

impl BackendProcess {
    /// `/api/health`'s JSON.
    pub async fn health(&self) -> Json {
        self.get_json("/api/health").await
    }

    /// The relay's counters, from `/api/health/relay` (answered on loopback only).
    pub async fn relay_counts(&self) -> Json {
        self.get_json("/api/health/relay").await
    }

    async fn get_json(&self, path: &str) -> Json {
        reqwest::get(format!("{}{path}", self.address))
            .await
            .expect("the backend answers")
            .json()
            .await
            .expect("a JSON answer")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id().unwrap() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// The log so far once it holds `needle`: its last lines may be read after the process
    /// has exited. Panics with the log if `needle` never comes.
    pub async fn log_containing(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.stderr();
            if log.contains(needle) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the log never said {needle:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's resident memory, in KiB, from /proc.
    pub fn resident_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id().unwrap())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the backend exits in time")
            .unwrap()
    }
}

/// One OTLP export request as the receiver got it, its body decompressed.
#[derive(Clone)]
pub struct ReceivedExport {
    pub path: String,
    pub headers: HeaderMap,
    /// Decompressed.
    pub body: Bytes,
    /// As it came over the wire: what a signature covers.
    pub wire: Bytes,
}

impl ReceivedExport {
    pub fn decoded(&self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(self.body.clone()).expect("an OTLP protobuf body")
    }
}

/// A span with the resource it was exported under.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub resource: Vec<KeyValue>,
    pub span: Span,
}

/// Every span in the exports, with its resource.
pub fn spans_of(exports: &[ReceivedExport]) -> Vec<ReceivedSpan> {
    exports
        .iter()
        .flat_map(|export| export.decoded().resource_spans)
        .flat_map(|resource_spans| {
            let resource = resource_spans
                .resource
                .map(|resource| resource.attributes)
                .unwrap_or_default();
            resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
                .map(move |span| ReceivedSpan {
                    resource: resource.clone(),
                    span,
                })
        })
        .collect()
}

/// An OTLP trace receiver on a free loopback port, as a collector or Honeycomb would be: over
/// HTTP, or gRPC with opentelemetry-proto's generated server. Bodies come decompressed as
/// their `Content-Encoding` (or `grpc-encoding`) says; the headers are kept as sent.
#[derive(Clone)]
pub struct OtlpReceiver {
    pub endpoint: String,
    exports: Arc<Mutex<Vec<ReceivedExport>>>,
    arrived: Arc<Notify>,
}

impl OtlpReceiver {
    pub async fn start() -> Self {
        OtlpReceiver::start_answering_after(Duration::ZERO).await
    }

    /// A receiver that takes `delay` over every answer, as a distant or loaded one does.
    pub async fn start_answering_after(delay: Duration) -> Self {
        let exports = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (store, notify) = (exports.clone(), arrived.clone());
        let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (store, notify) = (store.clone(), notify.clone());
            async move {
                tokio::time::sleep(delay).await;
                let wire = body.clone();
                let Some(body) = decompressed(&headers, body) else {
                    return (
                        StatusCode::BAD_REQUEST,
                        [("content-type", "text/plain")],
                        b"a Content-Encoding this receiver can't read, or a body that is not in it"
                            .to_vec(),
                    );
                };
                store.lock().unwrap().push(ReceivedExport {
                    path: uri.path().to_owned(),
                    headers,
                    body,
                    wire,
                });
                notify.notify_waiters();
                (
                    StatusCode::OK,
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        OtlpReceiver {
            endpoint,
            exports,
            arrived,
        }
    }

    /// A gRPC receiver (OTLP's `TraceService`) that takes gzip and zstd; each export is kept
    /// re-encoded as protobuf, with its metadata as headers.
    pub async fn start_grpc() -> Self {
        let exports = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let service = TraceServiceServer::new(GrpcStore {
            exports: exports.clone(),
            arrived: arrived.clone(),
        })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        OtlpReceiver {
            endpoint,
            exports,
            arrived,
        }
    }

    pub fn exports(&self) -> Vec<ReceivedExport> {
        self.exports.lock().unwrap().clone()
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        spans_of(&self.exports())
    }

    /// Waits until the spans received so far satisfy `done`, and returns them.
    pub async fn wait_for(&self, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let arrived = self.arrived.notified();
                let spans = self.spans();
                if done(&spans) {
                    return spans;
                }
                // Also wake now and then: a notification can land between the check and the wait.
                let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("spans never arrived; got {:#?}", self.spans()))
    }
}

/// The body as sent before its `Content-Encoding`; None for an encoding other than gzip or
/// zstd, or a body that is not in the one named.
fn decompressed(headers: &HeaderMap, body: Bytes) -> Option<Bytes> {
    let encoding = headers
        .get("content-encoding")
        .map(|value| value.to_str().unwrap_or("unreadable"));
    match encoding {
        None | Some("identity") => Some(body),
        Some("gzip") => {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .ok()?;
            Some(plain.into())
        }
        Some("zstd") => zstd::stream::decode_all(&body[..]).ok().map(Bytes::from),
        Some(_) => None,
    }
}

struct GrpcStore {
    exports: Arc<Mutex<Vec<ReceivedExport>>>,
    arrived: Arc<Notify>,
}

#[tonic::async_trait]
impl TraceService for GrpcStore {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let (metadata, _, export) = request.into_parts();
        let body = Bytes::from(export.encode_to_vec());
        self.exports.lock().unwrap().push(ReceivedExport {
            path: GRPC_EXPORT_PATH.to_owned(),
            headers: metadata.into_headers(),
            body: body.clone(),
            wire: body,
        });
        self.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// What `ReceivedExport::path` is for an export over gRPC.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Posts one browser span named `name` to the relay of the backend at `address`, as OTLP/JSON.
pub async fn relay_browser_span(address: &str, name: &str) {
    let export = serde_json::json!({"resourceSpans": [{
        "scopeSpans": [{"spans": [{
            "traceId": "6921a1b2c3d4e5f60718293a4b5c6d7e",
            "spanId": "0102030405060708",
            "name": name,
            "kind": 3,
            "startTimeUnixNano": "1795000000000000000",
            "endTimeUnixNano": "1795000000100000000"
        }]}]
    }]});
    let response = reqwest::Client::new()
        .post(format!("{address}/v1/traces"))
        .json(&export)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

pub fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attribute(attributes, key) {
        Some(Value::StringValue(value)) => Some(value),
        _ => None,
    }
}

pub fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(Value::IntValue(value)) => Some(*value),
        _ => None,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Sends `count` requests one after another and returns the slowest one's time, asserting each
/// succeeded.
pub async fn slowest_of(count: usize, url: &str) -> Duration {
    let client = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..count {
        let started = std::time::Instant::now();
        let response = client.get(url).send().await.expect("the server answers");
        assert_eq!(response.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

/// A port on which nothing listens.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A UDP socket playing the X-Ray daemon: keeps every datagram it receives.
#[derive(Clone)]
pub struct FakeXrayDaemon {
    pub address: String,
    datagrams: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakeXrayDaemon {
    pub async fn start() -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap().to_string();
        let datagrams = Arc::new(Mutex::new(Vec::new()));
        let store = datagrams.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0; 70_000];
            while let Ok(length) = socket.recv(&mut buffer).await {
                store.lock().unwrap().push(buffer[..length].to_vec());
            }
        });
        FakeXrayDaemon { address, datagrams }
    }

    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.datagrams.lock().unwrap().clone()
    }

    /// Every document received, checked for the daemon protocol's header line.
    pub fn documents(&self) -> Vec<Json> {
        self.datagrams()
            .iter()
            .map(|datagram| {
                let text = std::str::from_utf8(datagram).expect("datagrams are UTF-8");
                let (header, body) = text.split_once('\n').expect("a header line");
                assert_eq!(header, r#"{"format":"json","version":1}"#);
                serde_json::from_str(body).expect("a JSON document")
            })
            .collect()
    }

    pub async fn wait_for(&self, done: impl Fn(&[Json]) -> bool) -> Vec<Json> {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let documents = self.documents();
                if done(&documents) {
                    return documents;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("documents never arrived; got {:#?}", self.documents()))
    }
}

/// AWS on loopback: X-Ray's OTLP traces endpoint (`/v1/traces`), its sampling API
/// (`/GetSamplingRules`, `/SamplingTargets`) and an ECS container credentials endpoint
/// (`/credentials`), keeping every request they get.
#[derive(Clone)]
pub struct FakeAws {
    pub address: String,
    requests: Arc<Mutex<Vec<ReceivedExport>>>,
    traces_status: Arc<std::sync::atomic::AtomicU16>,
    sampling_rules: Arc<Mutex<Json>>,
    credentials_lifetime: Arc<std::sync::atomic::AtomicU64>,
}

/// The credentials `FakeAws` serves as a container's: a new key id each time (the first is
/// `container_key_id(1)`), valid for an hour unless told otherwise.
pub const CONTAINER_SECRET: &str = "c0ntainer/s3cr3t+EXAMPLEKEY";
pub const CONTAINER_TOKEN: &str = "c0ntainer-sessi0n-t0ken";

pub fn container_key_id(fetch: usize) -> String {
    format!("ASIACONTAINER{fetch}EXAMPLE")
}

impl FakeAws {
    pub async fn start() -> Self {
        use axum::extract::State;
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        use std::sync::atomic::{AtomicU16, Ordering};

        let fake = FakeAws {
            address: String::new(),
            requests: Arc::new(Mutex::new(Vec::new())),
            traces_status: Arc::new(AtomicU16::new(200)),
            sampling_rules: Arc::new(Mutex::new(serde_json::json!([]))),
            credentials_lifetime: Arc::new(std::sync::atomic::AtomicU64::new(3600)),
        };
        let router = Router::new()
            .fallback(
                |State(fake): State<FakeAws>, uri: Uri, headers: HeaderMap, body: Bytes| async move {
                    let path = uri.path().to_owned();
                    fake.requests.lock().unwrap().push(ReceivedExport {
                        path: path.clone(),
                        body: decompressed(&headers, body.clone()).unwrap_or_default(),
                        headers,
                        wire: body,
                    });
                    match path.as_str() {
                        "/v1/traces" => {
                            let status = fake.traces_status.load(Ordering::Relaxed);
                            (
                                StatusCode::from_u16(status).unwrap(),
                                [("content-type", "application/x-protobuf")],
                                ExportTraceServiceResponse::default().encode_to_vec(),
                            )
                                .into_response()
                        }
                        "/GetSamplingRules" => {
                            let rules = fake.sampling_rules.lock().unwrap().clone();
                            axum::Json(serde_json::json!({ "SamplingRuleRecords": rules }))
                                .into_response()
                        }
                        "/SamplingTargets" => axum::Json(serde_json::json!({
                            "SamplingTargetDocuments": [], "LastRuleModification": 0
                        }))
                        .into_response(),
                        "/credentials" => {
                            let fetch = fake.requests_to("/credentials").len();
                            let lifetime = fake.credentials_lifetime.load(Ordering::Relaxed);
                            let expiration = time::OffsetDateTime::now_utc()
                                + time::Duration::seconds(lifetime as i64);
                            let expiration = expiration
                                .replace_nanosecond(0)
                                .unwrap()
                                .format(&time::format_description::well_known::Rfc3339)
                                .unwrap();
                            axum::Json(serde_json::json!({
                                "AccessKeyId": container_key_id(fetch),
                                "SecretAccessKey": CONTAINER_SECRET,
                                "Token": CONTAINER_TOKEN,
                                "Expiration": expiration,
                            }))
                            .into_response()
                        }
                        _ => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            )
            .with_state(fake.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeAws { address, ..fake }
    }

    pub fn traces_endpoint(&self) -> String {
        format!("{}/v1/traces", self.address)
    }

    pub fn credentials_uri(&self) -> String {
        format!("{}/credentials", self.address)
    }

    /// Answers every later OTLP export with `status`.
    pub fn answer_traces_with(&self, status: u16) {
        self.traces_status
            .store(status, std::sync::atomic::Ordering::Relaxed);
    }

    /// Serves container credentials that expire `seconds` after they are fetched.
    pub fn serve_credentials_for(&self, seconds: u64) {
        self.credentials_lifetime
            .store(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    /// What GetSamplingRules answers: `SamplingRuleRecords`.
    pub fn serve_sampling_rules(&self, rules: Json) {
        *self.sampling_rules.lock().unwrap() = rules;
    }

    pub fn requests_to(&self, path: &str) -> Vec<ReceivedExport> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        spans_of(&self.requests_to("/v1/traces"))
    }

    /// Waits until the requests to `path` satisfy `done`, and returns them.
    pub async fn wait_for(
        &self,
        path: &str,
        done: impl Fn(&[ReceivedExport]) -> bool,
    ) -> Vec<ReceivedExport> {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let requests = self.requests_to(path);
                if done(&requests) {
                    return requests;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("the requests to {path} never came"))
    }

    pub async fn wait_for_spans(
        &self,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        self.wait_for("/v1/traces", |exports| done(&spans_of(exports)))
            .await;
        self.spans()
    }
}

/// Empty AWS config and credentials files of a test's own, removed when dropped: the backend
/// reads these instead of the machine's `~/.aws`.
pub struct AwsFiles {
    directory: std::path::PathBuf,
}

impl AwsFiles {
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let directory = std::env::temp_dir().join(format!(
            "cruddur-aws-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&directory).unwrap();
        for file in ["config", "credentials"] {
            std::fs::write(directory.join(file), "").unwrap();
        }
        AwsFiles { directory }
    }

    /// The variables that keep the credential chain on this machine's loopback: instance
    /// metadata off, and these files.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            (
                "AWS_CONFIG_FILE",
                self.directory.join("config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.directory.join("credentials").display().to_string(),
            ),
        ]
    }
}

impl Drop for AwsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
