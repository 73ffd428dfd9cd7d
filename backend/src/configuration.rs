//! Everything the backend reads from its environment, read once at startup.
//! The OpenTelemetry SDK and exporter read the standard `OTEL_*` variables themselves; this
//! module only reads the ones the application itself must decide on.

use std::env;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;

use crate::client_address::{ForwardedHeader, TrustedProxies};
use crate::redact;
use crate::telemetry::relay::RelayBudgets;
use crate::telemetry::trace_store::StoreLimits;

pub const DEFAULT_PORT: u16 = 4567;
pub const DEFAULT_FRONTEND_URL: &str = "http://localhost:3000";
pub const DEFAULT_SERVICE_NAME: &str = shared::BACKEND_SERVICE_NAME;

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `PORT`; 0 asks the system for a free one.
    pub port: u16,
    /// `CRUDDUR_BIND`: the address to listen on; every interface unless told otherwise, or
    /// 127.0.0.1 with the dev endpoints on, which refuse anything beyond loopback.
    pub bind: IpAddr,
    /// `FRONTEND_URL`: the only origin browsers may call the API from.
    pub frontend_origin: HeaderValue,
    pub telemetry: TelemetrySettings,
    pub local_traces: LocalTracesSettings,
    pub relay: RelaySettings,
    /// `CRUDDUR_TRUSTED_PROXIES`: the networks whose forwarded header says who the client is
    /// (a comma-separated list of CIDRs); empty by default, so the peer is. The header is
    /// `CRUDDUR_FORWARDED_HEADER`: `x-forwarded-for` (the default) or `forwarded`, never both.
    pub trusted_proxies: TrustedProxies,
    /// `CRUDDUR_SHUTDOWN_TIMEOUT` in seconds (5): how long in-flight requests may run after
    /// SIGTERM. The relay's drain and the exporters' flush follow within their own bounds, so
    /// the whole exit fits in Docker's default 10 s grace period.
    pub shutdown_timeout: Duration,
    /// `CRUDDUR_DRAIN_DELAY` in seconds (0): how long the server serves on after SIGTERM while
    /// answering not ready, before it stops accepting (`readiness`).
    pub drain_delay: Duration,
    /// `CRUDDUR_DEV_ENDPOINTS=1`: serve the development tools' endpoints under `/api/dev/`
    /// (`routes::dev`). Off by default: they call out on a caller's behalf.
    pub dev_endpoints: bool,
    pub database: DatabaseSettings,
    /// `CRUDDUR_WRITE_BUDGET` (30): POST requests each client may make a minute, as many at
    /// once; past it, 429 with `Retry-After`.
    pub write_budget: u32,
    /// `CRUDDUR_READ_BUDGET` (600): GET requests each client may make a minute, as many at
    /// once; past it, 429 with `Retry-After`.
    pub read_budget: u32,
    /// `CRUDDUR_SEARCH_BUDGET` (30): searches each client may make a minute, as many at once,
    /// instead of reads; past it, 429 with `Retry-After`.
    pub search_budget: u32,
}

/// Where the cruds are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: a `postgres://` URL, or unset for a SQLite file under `CRUDDUR_DATA_DIR`
    /// (`./data`).
    pub location: DatabaseLocation,
    /// `CRUDDUR_SEED_DATA=on|off` (on): fill an empty database with the week-2 seed cruds,
    /// replies and messages.
    pub seed_data: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// The file SQLite keeps everything in; created with its directory on first run.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL. It may hold a password, so `Debug` shows it redacted.
    Postgres(String),
}

impl DatabaseLocation {
    pub const SQLITE_FILE_NAME: &str = "cruddur.db";
    pub const DEFAULT_DATA_DIR: &str = "./data";
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseLocation::Sqlite(path) => write!(formatter, "Sqlite({path:?})"),
            DatabaseLocation::Postgres(url) => {
                write!(formatter, "Postgres({})", redact::url_text(url))
            }
        }
    }
}

/// The relay for the browser's spans (`POST /v1/traces`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// `CRUDDUR_FRONTEND_SERVICE_NAME` (`cruddur-frontend`): the `service.name` every relayed
    /// span carries, whatever the browser claimed.
    pub frontend_service_name: String,
    /// `CRUDDUR_RELAY_REQUESTS_PER_SECOND` (5) with bursts of `CRUDDUR_RELAY_REQUEST_BURST` (20),
    /// `CRUDDUR_RELAY_SPANS_PER_SECOND` (2,000) with bursts of `CRUDDUR_RELAY_SPAN_BURST`
    /// (10,000), all per client; `CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND` (20,000) with bursts of
    /// `CRUDDUR_RELAY_GLOBAL_SPAN_BURST` (20,000) for everyone.
    pub budgets: RelayBudgets,
}

/// The local trace view's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTracesSettings {
    /// `CRUDDUR_LOCAL_TRACES=on|off`, off unless switched on: the view shows every user's
    /// requests (search terms, addresses, user agents) to anyone who can reach the port.
    pub enabled: bool,
    /// `CRUDDUR_LOCAL_TRACES_MAX_TRACES` (500), `CRUDDUR_LOCAL_TRACES_MAX_MB` (64) and
    /// `CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE` (5,000).
    pub limits: StoreLimits,
    /// `HONEYCOMB_TRACE_URL`: a trace's address in Honeycomb with `{trace_id}` in it (the team
    /// and environment are in the address, and an API key does not tell them), for the view's
    /// link, e.g. `https://ui.honeycomb.io/TEAM/environments/ENV/trace?trace_id={trace_id}`.
    pub honeycomb_trace_url: Option<String>,
    /// `HONEYCOMB_API_ENDPOINT`: where Honeycomb's API is asked for the team and environment the
    /// key belongs to, when the OTLP endpoint is not Honeycomb's own (a proxy, a test's stand-in).
    pub honeycomb_api_endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `OTEL_SDK_DISABLED=true`: no spans are made into OpenTelemetry spans nor exported.
    pub sdk_disabled: bool,
    /// Where trace exports go, resolved as the OTLP exporter specification says:
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` (plus
    /// `/v1/traces` over HTTP). None: no endpoint was set, so nothing is exported.
    ///
    /// opentelemetry-otlp reads these variables too, but keeps what it makes of them private,
    /// and the relay sends the browser's spans to the same place, the same way: so they are
    /// resolved once here, and handed to the exporter and the relay alike.
    pub traces_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`; anything else
    /// than the three spoken fails startup.
    pub protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` or `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip`,
    /// `zstd` or `none` (the default); anything else fails startup.
    pub compression: OtlpCompression,
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` or `OTEL_EXPORTER_OTLP_HEADERS`, plus Honeycomb's key
    /// header from `HONEYCOMB_API_KEY` when the endpoint is Honeycomb's.
    pub headers: OtlpHeaders,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds
    /// (10,000): the longest one export may take, its retries included.
    pub export_timeout: Duration,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// 4096: the most bytes a string attribute value of the backend's spans keeps.
    pub attribute_value_length_limit: usize,
    /// The region to sign for when the traces endpoint is X-Ray's own
    /// (`https://xray.<region>.amazonaws.com/...`): AWS's OpenTelemetry distributions sign
    /// requests there with SigV4, and so does this backend.
    pub traces_endpoint_xray_region: Option<String>,
    pub xray: XraySettings,
}

/// The AWS X-Ray SDK's variables, with the SDK's meanings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XraySettings {
    /// `AWS_XRAY_SDK_ENABLED=false` turns X-Ray off.
    pub enabled: bool,
    /// `AWS_XRAY_DAEMON_ADDRESS`: `host:port` for both, or `tcp:host:port udp:host:port`.
    pub daemon: DaemonAddress,
    /// `AWS_XRAY_TRACING_NAME`, else the service name.
    pub tracing_name: Option<String>,
    /// `AWS_XRAY_URL`: a Host pattern (`*`, `?`); matching requests' segments are named after their host.
    pub dynamic_naming: Option<String>,
    /// `AWS_XRAY_SAMPLING_RULES`: local sampling rules, as JSON text or the path of a JSON file.
    pub sampling_rules: Option<String>,
    /// `CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND` (10): how many traces a second an incoming
    /// `Sampled=1` may put in X-Ray; past that the sampling rules decide. 0: the rules always do.
    pub forced_samples_per_second: u64,
    pub context_missing: ContextMissing,
    /// `CRUDDUR_XRAY_EXPORTER=daemon|otlp` (daemon): where the spans of sampled traces go.
    pub destination: XrayDestination,
    /// The region whose X-Ray console shows the traces, for the trace view's links: the OTLP
    /// mode's region, else `AWS_REGION`, else `AWS_DEFAULT_REGION` (the daemon's own region is
    /// not known here). None when no valid one is set.
    pub console_region: Option<String>,
}

/// Where X-Ray's spans go: segments to the daemon, or OTLP straight to X-Ray's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrayDestination {
    Daemon,
    Otlp(XrayOtlpSettings),
}

/// `CRUDDUR_XRAY_EXPORTER=otlp`: X-Ray without a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayOtlpSettings {
    /// `CRUDDUR_XRAY_OTLP_ENDPOINT`, else `https://xray.<region>.amazonaws.com/v1/traces`.
    pub endpoint: String,
    /// `CRUDDUR_XRAY_API_ENDPOINT`, else `https://xray.<region>.amazonaws.com`: where
    /// GetSamplingRules and GetSamplingTargets go.
    pub api_endpoint: String,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the endpoint's own region.
    pub region: String,
    /// `CRUDDUR_XRAY_API_KEY`: sent as `Authorization: Bearer <key>` instead of a SigV4
    /// signature. It can only send spans: sampling then follows the local rules.
    pub api_key: Option<Secret>,
}

/// A value that is never shown: `Debug` prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(redacted)")
    }
}

/// The region of an X-Ray endpoint (`xray.<region>.amazonaws.com`, or `.amazonaws.com.cn`),
/// None for any other address.
pub fn xray_endpoint_region(endpoint: &str) -> Option<String> {
    let url = reqwest::Url::parse(endpoint.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let region = host
        .strip_prefix("xray.")?
        .strip_suffix(".amazonaws.com")
        .or_else(|| {
            host.strip_prefix("xray.")
                .and_then(|rest| rest.strip_suffix(".amazonaws.com.cn"))
        })?;
    valid_region(region).then(|| region.to_owned())
}

/// `us-west-2`: letters, digits and dashes; anything else would change the addresses it is
/// put in.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '-')
}

/// `CRUDDUR_XRAY_EXPORTER` and the settings its `otlp` mode needs. The region is needed to
/// build the default endpoints and to sign; an endpoint of X-Ray's own names its region.
fn xray_destination_from(
    exporter: Option<String>,
    otlp_endpoint: Option<String>,
    api_endpoint: Option<String>,
    region: Option<String>,
    api_key: Option<String>,
) -> Result<XrayDestination, ConfigurationError> {
    match exporter
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("daemon") => return Ok(XrayDestination::Daemon),
        Some("otlp") => {}
        Some(_) => {
            return Err(ConfigurationError::Invalid {
                name: "CRUDDUR_XRAY_EXPORTER",
                expected: "daemon or otlp",
                value: exporter.unwrap_or_default(),
            });
        }
    }
    let otlp_endpoint = otlp_endpoint.map(|endpoint| endpoint.trim().to_owned());
    let region = region
        .map(|region| region.trim().to_owned())
        .or_else(|| otlp_endpoint.as_deref().and_then(xray_endpoint_region))
        .ok_or(ConfigurationError::Invalid {
            name: "AWS_REGION",
            expected: "set (or AWS_DEFAULT_REGION) when CRUDDUR_XRAY_EXPORTER=otlp: X-Ray's \
                       endpoints and signatures are per region",
            value: String::new(),
        })?;
    let region_host = format!("https://xray.{region}.amazonaws.com");
    Ok(XrayDestination::Otlp(XrayOtlpSettings {
        endpoint: otlp_endpoint.unwrap_or_else(|| format!("{region_host}/v1/traces")),
        api_endpoint: api_endpoint
            .map(|endpoint| endpoint.trim().trim_end_matches('/').to_owned())
            .unwrap_or(region_host),
        region,
        api_key: api_key.map(|key| Secret::new(key.trim().to_owned())),
    }))
}

/// Where the X-Ray daemon listens: segments go to its UDP port, sampling calls to its TCP proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonAddress {
    pub udp: String,
    pub tcp: String,
}

impl DaemonAddress {
    pub const DEFAULT: &str = "127.0.0.1:2000";

    /// `host:port`, or both forms of the SDKs: `tcp:host:port udp:host:port` in either order.
    pub fn parse(value: &str) -> Option<DaemonAddress> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [both] if is_host_port(both) => Some(DaemonAddress {
                udp: (*both).to_owned(),
                tcp: (*both).to_owned(),
            }),
            [first, second] => {
                let mut udp = None;
                let mut tcp = None;
                for part in [first, second] {
                    match part.split_once(':') {
                        Some(("udp", address)) if is_host_port(address) => udp = Some(address),
                        Some(("tcp", address)) if is_host_port(address) => tcp = Some(address),
                        _ => return None,
                    }
                }
                Some(DaemonAddress {
                    udp: udp?.to_owned(),
                    tcp: tcp?.to_owned(),
                })
            }
            _ => None,
        }
    }
}

fn is_host_port(value: &str) -> bool {
    value.rsplit_once(':').is_some_and(|(host, port)| {
        // A colon in the host only inside brackets: `[::1]:2000`.
        let plain_host = !host.contains(':') || (host.starts_with('[') && host.ends_with(']'));
        !host.is_empty() && plain_host && port.parse::<u16>().is_ok()
    })
}

/// `AWS_XRAY_CONTEXT_MISSING`: what to do with a span that belongs to no request's segment.
/// The SDKs throw on `RUNTIME_ERROR`; here the choice is made on the exporter's thread, long
/// after the request, so it logs like `LOG_ERROR`: telemetry never breaks the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextMissing {
    LogError,
    IgnoreError,
}

/// Headers for the OTLP endpoint, such as Honeycomb's key: their values are secrets, so
/// `Debug` shows only their names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpHeaders(Vec<(String, String)>);

impl OtlpHeaders {
    /// The specification's format: `name=value,name2=value2`, values percent-encoded. Parsed
    /// here because opentelemetry-otlp keeps its parser private.
    pub fn parse(text: &str) -> Self {
        OtlpHeaders(
            text.split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| {
                    let value = percent_encoding::percent_decode_str(value.trim())
                        .decode_utf8_lossy()
                        .into_owned();
                    (name.trim().to_owned(), value)
                })
                .filter(|(name, _)| !name.is_empty())
                .collect(),
        )
    }

    pub fn names(&self) -> String {
        self.0
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "OtlpHeaders([{}])", self.names())
    }
}

/// How the OTLP exporter and the relay speak to the endpoint; the specification's default is
/// HTTP with protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl OtlpProtocol {
    const EXPECTED: &'static str = "http/protobuf, http/json or grpc";

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
            OtlpProtocol::Grpc => "grpc",
        }
    }
}

/// How export bodies are compressed; none unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    None,
    Gzip,
    Zstd,
}

impl OtlpCompression {
    const EXPECTED: &'static str = "gzip, zstd or none";

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpCompression::None => "none",
            OtlpCompression::Gzip => "gzip",
            OtlpCompression::Zstd => "zstd",
        }
    }
}

/// The first of `names` that is set, as one of `choices` (named as they are written, in any
/// case); the variable for one signal comes first and wins over the one for every signal.
fn first_choice<T: Copy, const N: usize>(
    env: &Env,
    names: [&'static str; 2],
    choices: [T; N],
    written: impl Fn(T) -> &'static str,
    expected: &'static str,
    default: T,
) -> Result<T, ConfigurationError> {
    let Some((name, value)) = names
        .into_iter()
        .find_map(|name| Some((name, env.var(name)?)))
    else {
        return Ok(default);
    };
    let wanted = value.trim();
    choices
        .into_iter()
        .find(|choice| written(*choice).eq_ignore_ascii_case(wanted))
        .ok_or(ConfigurationError::Invalid {
            name,
            expected,
            value,
        })
}

impl Settings {
    /// The process's environment.
    pub fn from_env() -> Result<Self, ConfigurationError> {
        Settings::from_lookup(|name| env::var(name).ok())
    }

    /// The variables `lookup` gives, as if they were the environment: tests build their
    /// settings with it, without touching the process's environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigurationError> {
        let env = Env(&lookup);
        let dev_endpoints = dev_endpoints_enabled(env.var("CRUDDUR_DEV_ENDPOINTS"))?;
        Ok(Settings {
            port: port_from(env.var("PORT"))?,
            bind: bind_address_from(env.var("CRUDDUR_BIND"), dev_endpoints)?,
            frontend_origin: frontend_origin_from(env.var("FRONTEND_URL"))?,
            telemetry: TelemetrySettings::read(&env)?,
            local_traces: LocalTracesSettings::read(&env)?,
            relay: RelaySettings::read(&env)?,
            trusted_proxies: TrustedProxies::parse(
                &env.var("CRUDDUR_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|_| ConfigurationError::Invalid {
                name: "CRUDDUR_TRUSTED_PROXIES",
                expected: "a comma-separated list of CIDRs or IP addresses",
                value: env.var("CRUDDUR_TRUSTED_PROXIES").unwrap_or_default(),
            })?
            .reading(forwarded_header_from(env.var("CRUDDUR_FORWARDED_HEADER"))?),
            shutdown_timeout: Duration::from_secs(positive(
                "CRUDDUR_SHUTDOWN_TIMEOUT",
                env.var("CRUDDUR_SHUTDOWN_TIMEOUT"),
                DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
            )? as u64),
            drain_delay: drain_delay_from(env.var("CRUDDUR_DRAIN_DELAY"))?,
            dev_endpoints,
            database: DatabaseSettings {
                location: database_location_from(
                    env.var("DATABASE_URL"),
                    env.var("CRUDDUR_DATA_DIR"),
                )?,
                seed_data: seed_data_enabled(env.var("CRUDDUR_SEED_DATA"))?,
            },
            write_budget: per_minute(&env, "CRUDDUR_WRITE_BUDGET", DEFAULT_WRITE_BUDGET)?,
            read_budget: per_minute(&env, "CRUDDUR_READ_BUDGET", DEFAULT_READ_BUDGET)?,
            search_budget: per_minute(&env, "CRUDDUR_SEARCH_BUDGET", DEFAULT_SEARCH_BUDGET)?,
        })
    }
}

/// PostgreSQL when `DATABASE_URL` names it, else the SQLite file in the data directory.
fn database_location_from(
    database_url: Option<String>,
    data_dir: Option<String>,
) -> Result<DatabaseLocation, ConfigurationError> {
    match database_url {
        None => {
            let directory = data_dir.unwrap_or_else(|| DatabaseLocation::DEFAULT_DATA_DIR.into());
            Ok(DatabaseLocation::Sqlite(
                PathBuf::from(directory.trim()).join(DatabaseLocation::SQLITE_FILE_NAME),
            ))
        }
        Some(url) => {
            let url = url.trim();
            let postgres = ["postgres://", "postgresql://"]
                .iter()
                .any(|scheme| url.starts_with(scheme));
            if postgres && url::Url::parse(url).is_ok() {
                Ok(DatabaseLocation::Postgres(url.to_owned()))
            } else {
                Err(ConfigurationError::Invalid {
                    name: "DATABASE_URL",
                    expected: "a postgres:// URL, or unset for the SQLite file",
                    // The value may hold a password.
                    value: redact::url_text(url),
                })
            }
        }
    }
}

fn forwarded_header_from(value: Option<String>) -> Result<ForwardedHeader, ConfigurationError> {
    match value {
        None => Ok(ForwardedHeader::default()),
        Some(value) => ForwardedHeader::parse(&value).ok_or(ConfigurationError::Invalid {
            name: "CRUDDUR_FORWARDED_HEADER",
            expected: ForwardedHeader::ACCEPTED,
            value,
        }),
    }
}

fn seed_data_enabled(switch: Option<String>) -> Result<bool, ConfigurationError> {
    match switch
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(_) => Err(ConfigurationError::Invalid {
            name: "CRUDDUR_SEED_DATA",
            expected: "on or off",
            value: switch.unwrap_or_default(),
        }),
    }
}

const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS: usize = 5;

/// `CRUDDUR_DRAIN_DELAY`: whole seconds, none by default (no load balancer to wait for).
fn drain_delay_from(value: Option<String>) -> Result<Duration, ConfigurationError> {
    match value {
        None => Ok(Duration::ZERO),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigurationError::Invalid {
                name: "CRUDDUR_DRAIN_DELAY",
                expected: "a whole number of seconds",
                value,
            }),
    }
}
const DEFAULT_WRITE_BUDGET: usize = 30;
/// A person reading reads a few pages a minute, each a handful of requests.
const DEFAULT_READ_BUDGET: usize = 600;
/// A person searching types a few terms a minute.
const DEFAULT_SEARCH_BUDGET: usize = 30;

/// A client's budget a minute from the variable `name`: a positive count, `default` if unset.
fn per_minute(env: &Env, name: &'static str, default: usize) -> Result<u32, ConfigurationError> {
    Ok(u32::try_from(positive(name, env.var(name), default)?).unwrap_or(u32::MAX))
}

impl RelaySettings {
    fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let defaults = RelayBudgets::default();
        let number = |name: &'static str, default: u32| {
            positive(name, env.var(name), default as usize)
                .map(|value| u32::try_from(value).unwrap_or(u32::MAX))
        };
        Ok(RelaySettings {
            frontend_service_name: env
                .var("CRUDDUR_FRONTEND_SERVICE_NAME")
                .unwrap_or_else(|| shared::FRONTEND_SERVICE_NAME.to_owned()),
            budgets: RelayBudgets {
                requests_per_second: number(
                    "CRUDDUR_RELAY_REQUESTS_PER_SECOND",
                    defaults.requests_per_second,
                )?,
                request_burst: number("CRUDDUR_RELAY_REQUEST_BURST", defaults.request_burst)?,
                spans_per_second: number(
                    "CRUDDUR_RELAY_SPANS_PER_SECOND",
                    defaults.spans_per_second,
                )?,
                span_burst: number("CRUDDUR_RELAY_SPAN_BURST", defaults.span_burst)?,
                global_spans_per_second: number(
                    "CRUDDUR_RELAY_GLOBAL_SPANS_PER_SECOND",
                    defaults.global_spans_per_second,
                )?,
                global_span_burst: number(
                    "CRUDDUR_RELAY_GLOBAL_SPAN_BURST",
                    defaults.global_span_burst,
                )?,
            },
        })
    }
}

impl LocalTracesSettings {
    fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let defaults = StoreLimits::default();
        Ok(LocalTracesSettings {
            enabled: local_traces_enabled(env.var("CRUDDUR_LOCAL_TRACES"))?,
            limits: StoreLimits {
                max_traces: positive(
                    "CRUDDUR_LOCAL_TRACES_MAX_TRACES",
                    env.var("CRUDDUR_LOCAL_TRACES_MAX_TRACES"),
                    defaults.max_traces,
                )?,
                max_bytes: local_traces_max_mb(env.var("CRUDDUR_LOCAL_TRACES_MAX_MB"))? * MEBIBYTE,
                max_spans_per_trace: positive(
                    "CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE",
                    env.var("CRUDDUR_LOCAL_TRACES_MAX_SPANS_PER_TRACE"),
                    defaults.max_spans_per_trace,
                )?,
            },
            honeycomb_trace_url: env
                .var("HONEYCOMB_TRACE_URL")
                .filter(|template| template.contains("{trace_id}")),
            honeycomb_api_endpoint: env.var("HONEYCOMB_API_ENDPOINT"),
        })
    }
}

const MEBIBYTE: usize = 1024 * 1024;
/// The most `CRUDDUR_LOCAL_TRACES_MAX_MB` may say: far more than a development view needs, and
/// small enough that its bytes are a number on every platform.
const LOCAL_TRACES_MAX_MB_CAP: usize = 4096;

fn local_traces_max_mb(value: Option<String>) -> Result<usize, ConfigurationError> {
    let name = "CRUDDUR_LOCAL_TRACES_MAX_MB";
    let mb = positive(
        name,
        value.clone(),
        StoreLimits::default().max_bytes / MEBIBYTE,
    )?;
    if mb > LOCAL_TRACES_MAX_MB_CAP {
        return Err(ConfigurationError::Invalid {
            name,
            expected: "a whole number of megabytes from 1 to 4096",
            value: value.unwrap_or_default(),
        });
    }
    Ok(mb)
}

fn dev_endpoints_enabled(value: Option<String>) -> Result<bool, ConfigurationError> {
    match value.as_deref().map(str::trim) {
        None | Some("" | "0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(ConfigurationError::Invalid {
            name: "CRUDDUR_DEV_ENDPOINTS",
            expected: "1 or 0",
            value: value.unwrap_or_default(),
        }),
    }
}

fn local_traces_enabled(switch: Option<String>) -> Result<bool, ConfigurationError> {
    match switch
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("off") => Ok(false),
        Some("on") => Ok(true),
        Some(_) => Err(ConfigurationError::Invalid {
            name: "CRUDDUR_LOCAL_TRACES",
            expected: "on or off",
            value: switch.unwrap_or_default(),
        }),
    }
}

fn positive(
    name: &'static str,
    value: Option<String>,
    default: usize,
) -> Result<usize, ConfigurationError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|number| *number > 0)
            .ok_or(ConfigurationError::Invalid {
                name,
                expected: "a positive whole number",
                value,
            }),
    }
}

/// The OTLP exporter specification's default.
const DEFAULT_EXPORT_TIMEOUT_MILLISECONDS: usize = 10_000;
const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 4096;

impl TelemetrySettings {
    fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let protocol = first_choice(
            env,
            [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
            [
                OtlpProtocol::HttpProtobuf,
                OtlpProtocol::HttpJson,
                OtlpProtocol::Grpc,
            ],
            OtlpProtocol::as_str,
            OtlpProtocol::EXPECTED,
            OtlpProtocol::HttpProtobuf,
        )?;
        let honeycomb_api_key = env.var("HONEYCOMB_API_KEY");
        let traces_endpoint = traces_endpoint_from(
            env.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            env.var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            protocol,
        )
        .or_else(|| {
            honeycomb_api_key
                .as_ref()
                .map(|_| honeycomb_traces_endpoint(protocol).to_owned())
        });
        let headers = otlp_headers_from(
            env.var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                .or_else(|| env.var("OTEL_EXPORTER_OTLP_HEADERS")),
            honeycomb_api_key.filter(|_| {
                traces_endpoint
                    .as_deref()
                    .is_some_and(is_honeycomb_endpoint)
            }),
        );
        let traces_endpoint_xray_region = traces_endpoint.as_deref().and_then(xray_endpoint_region);
        Ok(TelemetrySettings {
            sdk_disabled: env
                .var("OTEL_SDK_DISABLED")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true")),
            traces_endpoint,
            protocol,
            compression: first_choice(
                env,
                [
                    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                    "OTEL_EXPORTER_OTLP_COMPRESSION",
                ],
                [
                    OtlpCompression::None,
                    OtlpCompression::Gzip,
                    OtlpCompression::Zstd,
                ],
                OtlpCompression::as_str,
                OtlpCompression::EXPECTED,
                OtlpCompression::None,
            )?,
            headers,
            export_timeout: Duration::from_millis(first_positive(
                env,
                [
                    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                ],
                DEFAULT_EXPORT_TIMEOUT_MILLISECONDS,
            )? as u64),
            // The default is this backend's, where the specification has none: a client sends
            // the query, the path and the user agent, and they are copied into attributes.
            attribute_value_length_limit: first_positive(
                env,
                [
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                ],
                DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            )?,
            traces_endpoint_xray_region,
            xray: XraySettings::read(env)?,
        })
    }
}

/// The first of `names` that is set, as a positive number; the variable for one signal comes
/// first and wins over the one for every signal.
fn first_positive<const N: usize>(
    env: &Env,
    names: [&'static str; N],
    default: usize,
) -> Result<usize, ConfigurationError> {
    match names
        .into_iter()
        .find_map(|name| Some((name, env.var(name)?)))
    {
        Some((name, value)) => positive(name, Some(value), default),
        None => Ok(default),
    }
}

const DEFAULT_FORCED_SAMPLES_PER_SECOND: u64 = 10;

impl XraySettings {
    fn read(env: &Env) -> Result<Self, ConfigurationError> {
        let daemon = match env.var("AWS_XRAY_DAEMON_ADDRESS") {
            None => DaemonAddress::parse(DaemonAddress::DEFAULT).expect("the default parses"),
            Some(value) => DaemonAddress::parse(&value).ok_or(ConfigurationError::Invalid {
                name: "AWS_XRAY_DAEMON_ADDRESS",
                expected: "host:port, or tcp:host:port udp:host:port",
                value,
            })?,
        };
        let destination = xray_destination_from(
            env.var("CRUDDUR_XRAY_EXPORTER"),
            env.var("CRUDDUR_XRAY_OTLP_ENDPOINT"),
            env.var("CRUDDUR_XRAY_API_ENDPOINT"),
            env.var("AWS_REGION")
                .or_else(|| env.var("AWS_DEFAULT_REGION")),
            env.var("CRUDDUR_XRAY_API_KEY"),
        )?;
        let console_region = match &destination {
            XrayDestination::Otlp(otlp) => Some(otlp.region.clone()),
            XrayDestination::Daemon => env
                .var("AWS_REGION")
                .or_else(|| env.var("AWS_DEFAULT_REGION"))
                .map(|region| region.trim().to_owned()),
        }
        .filter(|region| valid_region(region));
        Ok(XraySettings {
            enabled: !env
                .var("AWS_XRAY_SDK_ENABLED")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("false")),
            daemon,
            tracing_name: env.var("AWS_XRAY_TRACING_NAME"),
            dynamic_naming: env.var("AWS_XRAY_URL"),
            sampling_rules: env.var("AWS_XRAY_SAMPLING_RULES"),
            forced_samples_per_second: match env.var("CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND") {
                None => DEFAULT_FORCED_SAMPLES_PER_SECOND,
                Some(value) => value
                    .trim()
                    .parse()
                    .map_err(|_| ConfigurationError::Invalid {
                        name: "CRUDDUR_XRAY_FORCED_SAMPLES_PER_SECOND",
                        expected: "a whole number (0: never forced)",
                        value,
                    })?,
            },
            context_missing: match env.var("AWS_XRAY_CONTEXT_MISSING").as_deref() {
                Some(value) if value.trim().eq_ignore_ascii_case("IGNORE_ERROR") => {
                    ContextMissing::IgnoreError
                }
                _ => ContextMissing::LogError,
            },
            destination,
            console_region,
        })
    }
}

/// Where the variables come from: the environment, or a test's own values.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A variable that is set to something other than blanks.
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }
}

fn port_from(value: Option<String>) -> Result<u16, ConfigurationError> {
    match value {
        None => Ok(DEFAULT_PORT),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigurationError::Invalid {
                name: "PORT",
                expected: "a port number (0-65535)",
                value,
            }),
    }
}

/// An IPv4 or IPv6 address without a port (`127.0.0.1`, `::1`); when unset, `0.0.0.0`, or
/// `127.0.0.1` with the dev endpoints on. The dev endpoints call out on a caller's behalf, so
/// with them on, an address beyond this machine is refused.
fn bind_address_from(
    value: Option<String>,
    dev_endpoints: bool,
) -> Result<IpAddr, ConfigurationError> {
    let Some(value) = value else {
        return Ok(if dev_endpoints {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
    };
    let address = value.trim();
    // `[::1]`, as IPv6 addresses are written in URLs, is meant as `::1`.
    let address = address
        .strip_prefix('[')
        .and_then(|address| address.strip_suffix(']'))
        .unwrap_or(address);
    match address.parse::<IpAddr>() {
        Ok(address) if dev_endpoints && !address.is_loopback() => {
            Err(ConfigurationError::Invalid {
                name: "CRUDDUR_BIND",
                expected: "a loopback address such as 127.0.0.1 or ::1 while \
                           CRUDDUR_DEV_ENDPOINTS=1 (the dev endpoints call out on a caller's \
                           behalf)",
                value,
            })
        }
        Ok(address) => Ok(address),
        Err(_) => Err(ConfigurationError::Invalid {
            name: "CRUDDUR_BIND",
            expected: "an IP address without a port, such as 127.0.0.1 or ::1",
            value,
        }),
    }
}

fn frontend_origin_from(value: Option<String>) -> Result<HeaderValue, ConfigurationError> {
    // Browsers send the origin without a trailing slash; a URL copied from the address bar has one.
    let url = value.unwrap_or_else(|| DEFAULT_FRONTEND_URL.to_owned());
    let origin = url.trim().trim_end_matches('/');
    let valid = origin.starts_with("http://") || origin.starts_with("https://");
    match HeaderValue::from_str(origin) {
        Ok(origin) if valid => Ok(origin),
        _ => Err(ConfigurationError::Invalid {
            name: "FRONTEND_URL",
            expected: "an http:// or https:// origin such as http://localhost:3000",
            value: url,
        }),
    }
}

/// Where spans go when only `HONEYCOMB_API_KEY` is set, as in the seeds' compose file.
fn honeycomb_traces_endpoint(protocol: OtlpProtocol) -> &'static str {
    match protocol {
        OtlpProtocol::Grpc => "https://api.honeycomb.io:443",
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => "https://api.honeycomb.io/v1/traces",
    }
}

/// Whether `url` is one of Honeycomb's own (honeycomb.io or a subdomain, such as
/// `api.eu1.honeycomb.io`): the only hosts `HONEYCOMB_API_KEY` is sent to, and the only APIs
/// asked what a key's team is.
pub fn is_honeycomb_endpoint(url: &str) -> bool {
    reqwest::Url::parse(url.trim())
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|host| {
            let host = host.trim_end_matches('.');
            host == "honeycomb.io" || host.ends_with(".honeycomb.io")
        })
}

/// The OTLP headers as set, plus Honeycomb's key header from `HONEYCOMB_API_KEY` unless they
/// name it already; an unset key never becomes an empty header.
fn otlp_headers_from(headers: Option<String>, honeycomb_api_key: Option<String>) -> OtlpHeaders {
    let mut headers = headers
        .map(|headers| OtlpHeaders::parse(&headers))
        .unwrap_or_default();
    if let Some(key) = honeycomb_api_key
        && !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(HONEYCOMB_KEY_HEADER))
    {
        headers
            .0
            .push((HONEYCOMB_KEY_HEADER.into(), key.trim().into()));
    }
    headers
}

/// The header Honeycomb reads its key from.
pub const HONEYCOMB_KEY_HEADER: &str = "x-honeycomb-team";

/// The signal's endpoint as is; else the base one, with the traces path over HTTP (gRPC's
/// path is the service's, which the client adds).
fn traces_endpoint_from(
    traces_endpoint: Option<String>,
    base: Option<String>,
    protocol: OtlpProtocol,
) -> Option<String> {
    traces_endpoint
        .map(|endpoint| endpoint.trim().to_owned())
        .or_else(|| {
            base.map(|base| match protocol {
                OtlpProtocol::Grpc => base.trim().to_owned(),
                OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
                    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
                }
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honeycomb_api_key_alone_makes_the_key_header_and_the_otlp_headers_win() {
        let only_key = otlp_headers_from(None, Some("k3y".into()));
        assert_eq!(
            only_key.iter().collect::<Vec<_>>(),
            [("x-honeycomb-team", "k3y")]
        );
        let both = otlp_headers_from(Some("x-honeycomb-team=other".into()), Some("k3y".into()));
        assert_eq!(
            both.iter().collect::<Vec<_>>(),
            [("x-honeycomb-team", "other")]
        );
        assert_eq!(otlp_headers_from(None, None), OtlpHeaders::default());
    }

    #[test]
    fn honeycomb_api_key_alone_sends_spans_to_honeycomb_and_an_endpoint_wins() {
        let telemetry = |variables: &[(&str, &str)]| settings(variables).unwrap().telemetry;
        let only_key = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_HEADERS", ""),
        ]);
        assert_eq!(
            only_key.traces_endpoint.as_deref(),
            Some("https://api.honeycomb.io/v1/traces")
        );
        assert_eq!(only_key.headers.names(), "x-honeycomb-team");
        let over_grpc = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(
            over_grpc.traces_endpoint.as_deref(),
            Some("https://api.honeycomb.io:443")
        );
        assert_eq!(over_grpc.headers.names(), "x-honeycomb-team");
        let collector = telemetry(&[
            ("HONEYCOMB_API_KEY", "k3y"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
        ]);
        assert_eq!(
            collector.traces_endpoint.as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(telemetry(&[]).traces_endpoint, None);
    }

    #[test]
    fn honeycomb_api_key_goes_only_to_honeycombs_hosts() {
        let names = |endpoint: &str| {
            settings(&[
                ("HONEYCOMB_API_KEY", "k3y"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-dataset=cruddur"),
            ])
            .unwrap()
            .telemetry
            .headers
            .names()
        };
        for honeycomb in [
            "https://api.honeycomb.io",
            "https://api.eu1.honeycomb.io:443",
            "https://API.Honeycomb.IO.",
        ] {
            assert_eq!(
                names(honeycomb),
                "x-dataset,x-honeycomb-team",
                "{honeycomb}"
            );
        }
        for elsewhere in [
            "http://localhost:4318",
            "https://collector.example.com",
            "https://api.evilhoneycomb.io",
            "https://honeycomb.io.example.com",
            "https://api.honeycomb.io@attacker.example",
            "not a url",
        ] {
            assert_eq!(names(elsewhere), "x-dataset", "{elsewhere}");
        }
    }

    #[test]
    fn dev_endpoints_are_off_unless_set_to_1() {
        assert!(!dev_endpoints_enabled(None).unwrap());
        assert!(!dev_endpoints_enabled(Some("0".into())).unwrap());
        assert!(!dev_endpoints_enabled(Some(String::new())).unwrap());
        assert!(dev_endpoints_enabled(Some(" 1 ".into())).unwrap());
        assert!(dev_endpoints_enabled(Some("yes".into())).is_err());
    }

    #[test]
    fn the_database_is_a_sqlite_file_in_the_data_directory_unless_a_postgres_url_is_given() {
        assert_eq!(
            database_location_from(None, None).unwrap(),
            DatabaseLocation::Sqlite(PathBuf::from("./data/cruddur.db"))
        );
        assert_eq!(
            database_location_from(None, Some("/var/lib/cruddur".into())).unwrap(),
            DatabaseLocation::Sqlite(PathBuf::from("/var/lib/cruddur/cruddur.db"))
        );
        let url = "postgres://cruddur:s3cret@db:5432/cruddur";
        assert_eq!(
            database_location_from(Some(url.into()), Some("/ignored".into())).unwrap(),
            DatabaseLocation::Postgres(url.into())
        );
        assert!(database_location_from(Some("postgresql://db/cruddur".into()), None).is_ok());
    }

    #[test]
    fn a_database_url_never_shows_its_password() {
        let url = "postgres://cruddur:s3cret@db:5432/cruddur?sslpassword=s3cret";
        let shown = format!("{:?}", DatabaseLocation::Postgres(url.into()));
        assert_eq!(shown, "Postgres(postgres://db:5432/cruddur)");
        let error = database_location_from(Some("mysql://root:s3cret@db/cruddur".into()), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("DATABASE_URL"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn the_write_budget_is_thirty_a_minute_unless_set() {
        let budget = |variables: &[(&str, &str)]| settings(variables).map(|s| s.write_budget);
        assert_eq!(budget(&[]).unwrap(), 30);
        assert_eq!(
            budget(&[("CRUDDUR_WRITE_BUDGET", "100000")]).unwrap(),
            100_000
        );
        for bad in ["0", "-1", "lots"] {
            let error = budget(&[("CRUDDUR_WRITE_BUDGET", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_WRITE_BUDGET"), "{error}");
        }
    }

    #[test]
    fn the_drain_delay_is_none_unless_set_in_whole_seconds() {
        let delay = |variables: &[(&str, &str)]| settings(variables).map(|s| s.drain_delay);
        assert_eq!(delay(&[]).unwrap(), Duration::ZERO);
        assert_eq!(
            delay(&[("CRUDDUR_DRAIN_DELAY", "15")]).unwrap(),
            Duration::from_secs(15)
        );
        for bad in ["-1", "1.5", "soon"] {
            let error = delay(&[("CRUDDUR_DRAIN_DELAY", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_DRAIN_DELAY"), "{error}");
        }
    }

    #[test]
    fn seed_data_is_on_unless_switched_off() {
        assert!(seed_data_enabled(None).unwrap());
        assert!(seed_data_enabled(Some(" ON ".into())).unwrap());
        assert!(!seed_data_enabled(Some("off".into())).unwrap());
        assert!(seed_data_enabled(Some("no".into())).is_err());
    }

    #[test]
    fn local_traces_are_off_unless_switched_on() {
        assert!(!local_traces_enabled(None).unwrap());
        assert!(!local_traces_enabled(Some("OFF".into())).unwrap());
        assert!(local_traces_enabled(Some(" on ".into())).unwrap());
        assert!(local_traces_enabled(Some("maybe".into())).is_err());
    }

    #[test]
    fn the_bind_address_is_every_interface_unless_an_address_is_given() {
        assert_eq!(
            bind_address_from(None, false).unwrap(),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            bind_address_from(Some("127.0.0.1".into()), false).unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            bind_address_from(Some("[::1]".into()), false).unwrap(),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        );
        for bad in ["localhost", "127.0.0.1:4567", "0.0.0"] {
            let error = bind_address_from(Some(bad.into()), false)
                .unwrap_err()
                .to_string();
            assert!(error.contains("CRUDDUR_BIND"), "{error}");
        }
    }

    #[test]
    fn with_dev_endpoints_on_the_bind_is_loopback_by_default_and_nothing_wider_is_accepted() {
        let bind = |variables: &[(&str, &str)]| {
            let mut variables = variables.to_vec();
            variables.push(("CRUDDUR_DEV_ENDPOINTS", "1"));
            settings(&variables).map(|settings| settings.bind)
        };
        assert_eq!(bind(&[]).unwrap(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            bind(&[("CRUDDUR_BIND", "::1")]).unwrap(),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        );
        for wide in ["0.0.0.0", "::", "192.0.2.10"] {
            let error = bind(&[("CRUDDUR_BIND", wide)]).unwrap_err().to_string();
            assert!(
                error.contains("CRUDDUR_BIND") && error.contains("CRUDDUR_DEV_ENDPOINTS=1"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_appended_once_over_http_only() {
        let resolved =
            |base: &str, protocol| traces_endpoint_from(None, Some(base.to_owned()), protocol);
        assert_eq!(
            resolved("https://api.honeycomb.io", OtlpProtocol::HttpProtobuf).as_deref(),
            Some("https://api.honeycomb.io/v1/traces")
        );
        assert_eq!(
            resolved("http://collector:4318/", OtlpProtocol::HttpJson).as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            resolved("http://collector:4317", OtlpProtocol::Grpc).as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn the_traces_endpoint_is_used_as_is_and_wins() {
        let resolved = traces_endpoint_from(
            Some("http://x:1/custom".to_owned()),
            Some("http://y:2".to_owned()),
            OtlpProtocol::HttpProtobuf,
        );
        assert_eq!(resolved.as_deref(), Some("http://x:1/custom"));
        assert_eq!(traces_endpoint_from(None, None, OtlpProtocol::Grpc), None);
    }

    #[test]
    fn protobuf_is_the_default_protocol_and_an_unknown_one_fails_naming_the_choices() {
        let protocol = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.protocol)
        };
        assert_eq!(protocol(&[]).unwrap(), OtlpProtocol::HttpProtobuf);
        assert_eq!(
            protocol(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON")]).unwrap(),
            OtlpProtocol::HttpJson
        );
        assert_eq!(
            protocol(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", " grpc "),
            ])
            .unwrap(),
            OtlpProtocol::Grpc
        );
        let error = protocol(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc/json")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf, http/json or grpc, \
             got \"grpc/json\""
        );
    }

    #[test]
    fn the_daemon_address_takes_both_sdk_forms() {
        let both = DaemonAddress::parse("xray-daemon:2000").unwrap();
        assert_eq!(
            (both.udp.as_str(), both.tcp.as_str()),
            ("xray-daemon:2000", "xray-daemon:2000")
        );
        let split = DaemonAddress::parse("tcp:127.0.0.1:2001 udp:127.0.0.2:2002").unwrap();
        assert_eq!(
            (split.udp.as_str(), split.tcp.as_str()),
            ("127.0.0.2:2002", "127.0.0.1:2001")
        );
        let reversed = DaemonAddress::parse("udp:a:1 tcp:b:2").unwrap();
        assert_eq!(
            (reversed.udp.as_str(), reversed.tcp.as_str()),
            ("a:1", "b:2")
        );
        for bad in [
            "",
            "2000",
            "udp:a:1",
            "udp:a:1 udp:b:2",
            "tcp:a:x udp:b:2",
            "a:99999",
        ] {
            assert_eq!(DaemonAddress::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_values_are_decoded_and_never_shown() {
        let headers = OtlpHeaders::parse("x-honeycomb-team=s3cr3t%3D, x-dataset = cruddur ,junk");
        let pairs: Vec<_> = headers.iter().collect();
        assert_eq!(
            pairs,
            [("x-honeycomb-team", "s3cr3t="), ("x-dataset", "cruddur")]
        );
        let shown = format!("{headers:?}");
        assert_eq!(shown, "OtlpHeaders([x-honeycomb-team,x-dataset])");
    }

    fn settings(variables: &[(&str, &str)]) -> Result<Settings, ConfigurationError> {
        Settings::from_lookup(|name| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn the_export_timeout_is_in_milliseconds_and_the_traces_variable_wins() {
        let timeout = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.export_timeout)
        };
        assert_eq!(timeout(&[]).unwrap(), Duration::from_secs(10));
        assert_eq!(
            timeout(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            timeout(&[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            ])
            .unwrap(),
            Duration::from_millis(700)
        );
        assert!(matches!(
            timeout(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]),
            Err(ConfigurationError::Invalid {
                name: "OTEL_EXPORTER_OTLP_TIMEOUT",
                ..
            })
        ));
    }

    #[test]
    fn compression_is_none_unless_gzip_or_zstd_is_asked_and_anything_else_fails() {
        let compression = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.compression)
        };
        assert_eq!(compression(&[]).unwrap(), OtlpCompression::None);
        assert_eq!(
            compression(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")]).unwrap(),
            OtlpCompression::None
        );
        assert_eq!(
            compression(&[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP"),
            ])
            .unwrap(),
            OtlpCompression::Gzip
        );
        let error = compression(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "OTEL_EXPORTER_OTLP_COMPRESSION must be gzip, zstd or none, got \"brotli\""
        );
    }

    #[test]
    fn the_span_attribute_value_length_limit_wins_over_the_general_one() {
        let limit = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.telemetry.attribute_value_length_limit)
        };
        assert_eq!(limit(&[]).unwrap(), 4096);
        assert_eq!(
            limit(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100")]).unwrap(),
            100
        );
        assert_eq!(
            limit(&[
                ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
                ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
            ])
            .unwrap(),
            64
        );
        let error = limit(&[("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
            "{error}"
        );
    }

    fn xray_destination(variables: &[(&str, &str)]) -> Result<XrayDestination, ConfigurationError> {
        settings(variables).map(|settings| settings.telemetry.xray.destination)
    }

    #[test]
    fn xray_goes_to_the_daemon_unless_switched_to_otlp() {
        assert_eq!(xray_destination(&[]).unwrap(), XrayDestination::Daemon);
        assert_eq!(
            xray_destination(&[("CRUDDUR_XRAY_EXPORTER", " Daemon ")]).unwrap(),
            XrayDestination::Daemon
        );
        let error = xray_destination(&[("CRUDDUR_XRAY_EXPORTER", "udp")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("CRUDDUR_XRAY_EXPORTER"), "{error}");
    }

    #[test]
    fn xray_over_otlp_defaults_to_the_regions_endpoints() {
        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(
            otlp.endpoint,
            "https://xray.eu-west-1.amazonaws.com/v1/traces"
        );
        assert_eq!(otlp.api_endpoint, "https://xray.eu-west-1.amazonaws.com");
        assert_eq!(otlp.region, "eu-west-1");
        assert_eq!(otlp.api_key, None);

        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(otlp.region, "us-east-2", "AWS_REGION wins");
    }

    #[test]
    fn xray_over_otlp_takes_its_region_from_an_xray_endpoint_and_needs_one() {
        let XrayDestination::Otlp(otlp) = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            (
                "CRUDDUR_XRAY_OTLP_ENDPOINT",
                "https://xray.ap-south-1.amazonaws.com/v1/traces",
            ),
            ("CRUDDUR_XRAY_API_ENDPOINT", "http://127.0.0.1:9/"),
            ("CRUDDUR_XRAY_API_KEY", "k3y"),
        ])
        .unwrap() else {
            panic!("otlp mode")
        };
        assert_eq!(otlp.region, "ap-south-1");
        assert_eq!(otlp.api_endpoint, "http://127.0.0.1:9");
        assert_eq!(otlp.api_key.as_ref().map(Secret::expose), Some("k3y"));
        assert!(
            !format!("{otlp:?}").contains("k3y"),
            "the key is never shown"
        );

        let error = xray_destination(&[
            ("CRUDDUR_XRAY_EXPORTER", "otlp"),
            (
                "CRUDDUR_XRAY_OTLP_ENDPOINT",
                "http://127.0.0.1:4318/v1/traces",
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("AWS_REGION"), "{error}");
    }

    #[test]
    fn only_xray_endpoints_name_a_region_to_sign_for() {
        assert_eq!(
            xray_endpoint_region("https://xray.us-west-2.amazonaws.com/v1/traces").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            xray_endpoint_region("https://XRAY.cn-north-1.amazonaws.com.cn/v1/traces").as_deref(),
            Some("cn-north-1")
        );
        for other in [
            "https://api.honeycomb.io/v1/traces",
            "https://xray.amazonaws.com/v1/traces",
            "https://xray.us-west-2.amazonaws.com.evil.test/v1/traces",
            "http://localhost:4318/v1/traces",
            "not a url",
        ] {
            assert_eq!(xray_endpoint_region(other), None, "{other}");
        }
        let signed = settings(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://xray.us-west-2.amazonaws.com",
        )])
        .unwrap();
        assert_eq!(
            signed.telemetry.traces_endpoint_xray_region.as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn the_forwarded_header_is_x_forwarded_for_unless_set_and_anything_else_is_refused() {
        use crate::client_address::ForwardedHeader;
        let proxies = |variables: &[(&str, &str)]| {
            settings(variables).map(|settings| settings.trusted_proxies)
        };
        let trusted = ("CRUDDUR_TRUSTED_PROXIES", "10.0.0.0/8");
        let base = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            proxies(&[trusted]).unwrap(),
            base.clone().reading(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(
            proxies(&[trusted, ("CRUDDUR_FORWARDED_HEADER", "Forwarded")]).unwrap(),
            base.reading(ForwardedHeader::Forwarded)
        );
        let error = proxies(&[trusted, ("CRUDDUR_FORWARDED_HEADER", "both")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("CRUDDUR_FORWARDED_HEADER")
                && error.contains("x-forwarded-for or forwarded"),
            "{error}"
        );
    }

    #[test]
    fn local_traces_max_mb_past_its_cap_is_refused_rather_than_overflowing() {
        let limits = |mb: &'static str| {
            settings(&[("CRUDDUR_LOCAL_TRACES_MAX_MB", mb)]).map(|s| s.local_traces.limits)
        };
        assert_eq!(limits("4096").unwrap().max_bytes, 4096 * 1024 * 1024);
        for too_many in ["4097", "18446744073709551615"] {
            let error = limits(too_many).unwrap_err().to_string();
            assert!(
                error.contains("CRUDDUR_LOCAL_TRACES_MAX_MB") && error.contains("4096"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_bad_port_is_a_clear_error() {
        assert_eq!(port_from(None).unwrap(), DEFAULT_PORT);
        assert_eq!(port_from(Some("8080".into())).unwrap(), 8080);
        let error = port_from(Some("eighty".into())).unwrap_err().to_string();
        assert!(error.contains("PORT"), "{error}");
    }

    #[test]
    fn the_frontend_origin_loses_its_trailing_slash() {
        let origin = frontend_origin_from(Some("http://localhost:3000/".into())).unwrap();
        assert_eq!(origin, "http://localhost:3000");
        assert!(frontend_origin_from(Some("localhost:3000".into())).is_err());
    }
}
