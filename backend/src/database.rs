//! The database: a SQLite file by default, PostgreSQL when `DATABASE_URL` names one. Opened at
//! startup, brought to the latest schema by the migrations embedded in the binary (one set per
//! database), and described for the spans of its queries.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};

use crate::configuration::DatabaseLocation;
use crate::redact;

/// How long a request waits for a connection, and SQLite for a lock, before it answers 503.
pub(crate) const WAIT: Duration = Duration::from_secs(5);
/// Connections per process. SQLite writes one at a time whatever the pool; its readers, and
/// PostgreSQL, share these.
const MAX_CONNECTIONS: u32 = 10;
/// Searches under way at once: a search may scan every crud, so searches get a share of the
/// pool and never all of it, and the other reads and the writes always find a connection.
pub(crate) const SEARCH_CONNECTIONS: usize = 3;
/// The longest a PostgreSQL statement may run (`statement_timeout`) before it is cancelled
/// and its request answers 503: far beyond any indexed query, short of the wait above.
/// sqlx's `any` driver hides SQLite's connection, and with it the progress handler that would
/// bound a SQLite statement; there, `SEARCH_CONNECTIONS` bounds what the scans can hold.
const SET_STATEMENT_TIMEOUT: &str = "SET statement_timeout = 2000";

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDirectory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database {database}: {source}")]
    Connect {
        database: String,
        source: sqlx::Error,
    },
    #[error("cannot migrate the database {database}: {source}")]
    Migrate {
        database: String,
        source: sqlx::migrate::MigrateError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseSystem {
    Sqlite,
    Postgres,
}

impl DatabaseSystem {
    /// `db.system.name`, and X-Ray's `database_type`.
    pub fn name(self) -> &'static str {
        match self {
            DatabaseSystem::Sqlite => "sqlite",
            DatabaseSystem::Postgres => "postgresql",
        }
    }
}

/// What every query's span says about the database.
#[derive(Debug)]
pub struct DatabaseInfo {
    pub system: DatabaseSystem,
    /// `db.namespace`: the database's name (PostgreSQL), or its file's (SQLite).
    pub namespace: String,
    /// `server.address` and `server.port` (PostgreSQL).
    pub server: Option<(String, u16)>,
    /// The server's version, as it reports it.
    pub version: String,
    /// Where the database is, redacted (`redact::url`).
    pub url: String,
}

impl DatabaseInfo {
    /// Span attributes for X-Ray's `sql` block, which the conventions have none for.
    pub const VERSION_ATTRIBUTE: &str = "cruddur.db.version";
    pub const URL_ATTRIBUTE: &str = "cruddur.db.url";
}

pub struct Database {
    pub pool: AnyPool,
    pub info: Arc<DatabaseInfo>,
}

impl Database {
    /// Opens the database at `location` (creating a SQLite file and its directory) and runs
    /// the migrations it has not had.
    pub async fn open(location: &DatabaseLocation) -> Result<Database, DatabaseError> {
        sqlx::any::install_default_drivers();
        let (system, url, namespace, server) = match location {
            DatabaseLocation::Sqlite(path) => {
                let options = prepare_sqlite(path).await?;
                let namespace = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    DatabaseSystem::Sqlite,
                    options.to_url_lossy(),
                    namespace,
                    None,
                )
            }
            DatabaseLocation::Postgres(url) => {
                let parsed = url::Url::parse(url).map_err(|error| DatabaseError::Connect {
                    database: format!("{location:?}"),
                    source: sqlx::Error::Configuration(error.into()),
                })?;
                let namespace = parsed.path().trim_start_matches('/').to_owned();
                let server = parsed
                    .host_str()
                    .map(|host| (host.to_owned(), parsed.port().unwrap_or(5432)));
                (DatabaseSystem::Postgres, parsed, namespace, server)
            }
        };
        let database = format!("{location:?}");
        let connect_error = |source| DatabaseError::Connect {
            database: database.clone(),
            source,
        };
        // No statement log of sqlx's own: each query is a span already, and its logger asks
        // `tracing::enabled!`, which with this subscriber's per-layer filters leaves the next
        // span on that thread unrecorded (tracing-subscriber 0.3's filter state is not reset).
        let options = url
            .as_str()
            .parse::<AnyConnectOptions>()
            .map_err(connect_error)?
            .disable_statement_logging();
        // On a connection of their own: the pool's are held to the statement timeout, and a
        // migration may take longer.
        let mut migrating = AnyConnection::connect_with(&options)
            .await
            .map_err(connect_error)?;
        let migrations = match system {
            DatabaseSystem::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            DatabaseSystem::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrations
            .run(&mut migrating)
            .await
            .map_err(|source| DatabaseError::Migrate {
                database: database.clone(),
                source,
            })?;
        let _ = migrating.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(WAIT)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if system == DatabaseSystem::Postgres {
                        connection.execute(SET_STATEMENT_TIMEOUT).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        let version_query = match system {
            DatabaseSystem::Sqlite => "SELECT sqlite_version()",
            DatabaseSystem::Postgres => "SHOW server_version",
        };
        let version = sqlx::query_scalar::<_, String>(version_query)
            .fetch_one(&pool)
            .await
            .map_err(connect_error)?;
        tracing::info!(database = %database, %version, "the database is ready");
        Ok(Database {
            pool,
            info: Arc::new(DatabaseInfo {
                system,
                namespace,
                server,
                version,
                url: redact::url(&url),
            }),
        })
    }
}

/// Creates the SQLite file and its directory if missing, in WAL mode (readers never wait for
/// the writer; the mode stays with the file), and returns how the pool opens it.
async fn prepare_sqlite(path: &Path) -> Result<SqliteConnectOptions, DatabaseError> {
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(directory).map_err(|source| DatabaseError::DataDirectory {
            path: directory.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(WAIT);
    let connection = options
        .connect()
        .await
        .map_err(|source| DatabaseError::Connect {
            database: path.display().to_string(),
            source,
        })?;
    let _ = connection.close().await;
    Ok(options)
}
