//! The database: a SQLite file by default, PostgreSQL when `DATABASE_URL` names one. Opened at
//! startup, brought to the latest schema by the migrations embedded in the binary (one set per
//! database), and described for the spans of its queries.

pub mod settings;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{
    ConnectOptions, Connection, Executor, PgConnection, PgPool, SqliteConnection, SqlitePool,
};

use crate::redact;
use settings::DatabaseLocation;

/// How long a request waits for a connection, and SQLite for a lock, before it answers 503.
pub(crate) const WAIT: Duration = Duration::from_secs(5);
/// Connections per process. SQLite writes one at a time whatever the pool; its readers, and
/// PostgreSQL, share these.
const MAX_CONNECTIONS: u32 = 10;
/// Searches under way at once: a search may scan every crud, so searches get a share of the
/// pool and never all of it, and the other reads and the writes always find a connection.
pub(crate) const SEARCH_CONNECTIONS: usize = 3;
/// Statements each connection keeps compiled: more than the repository has, so none is ever
/// evicted and compiled again.
const STATEMENT_CACHE: usize = 64;
/// The longest a PostgreSQL statement may run (`statement_timeout`) before it is cancelled
/// and its request answers 503: far beyond any indexed query, short of the wait above.
const SET_STATEMENT_TIMEOUT: &str = "SET statement_timeout = 2000";
/// The most a SQLite statement that may scan runs before SQLite interrupts it and its request
/// answers 503, as PostgreSQL's `statement_timeout` does.
pub(crate) const SQLITE_STATEMENT_LIMIT: Duration = Duration::from_secs(2);
/// VM instructions between two looks at the clock: a few microseconds of work.
const PROGRESS_OPS: i32 = 10_000;

/// A typed pool for each database: sqlx's `any` driver would rebuild SQLite's options from a
/// URL, which cannot carry the busy timeout, `synchronous` or the statement cache's size.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Evaluates `$body` with `$pool` bound to the typed pool that `$database` (a `&Pool`) holds:
/// one text of each query and its bindings, compiled for each database.
macro_rules! on_pool {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            $crate::database::Pool::Sqlite($pool) => $body,
            $crate::database::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

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
    pub pool: Pool,
    pub info: Arc<DatabaseInfo>,
}

impl Database {
    /// Opens the database at `location` (creating a SQLite file and its directory) and runs
    /// the migrations it has not had.
    pub async fn open(location: &DatabaseLocation) -> Result<Database, DatabaseError> {
        let database = format!("{location:?}");
        let connect_error = |source| DatabaseError::Connect {
            database: database.clone(),
            source,
        };
        let migrate_error = |source| DatabaseError::Migrate {
            database: database.clone(),
            source,
        };
        let (pool, info) = match location {
            DatabaseLocation::Sqlite(path) => {
                let options = sqlite_options(path)?;
                // On a connection of their own, as on PostgreSQL.
                let mut migrating = SqliteConnection::connect_with(&options)
                    .await
                    .map_err(connect_error)?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&mut migrating)
                    .await
                    .map_err(migrate_error)?;
                let _ = migrating.close().await;
                let url = redact::url(&options.to_url_lossy());
                let pool = SqlitePoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(WAIT)
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?;
                let namespace = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let info = DatabaseInfo {
                    system: DatabaseSystem::Sqlite,
                    namespace,
                    server: None,
                    version: String::new(),
                    url,
                };
                (Pool::Sqlite(pool), info)
            }
            DatabaseLocation::Postgres(url) => {
                let parsed = url::Url::parse(url)
                    .map_err(|error| connect_error(sqlx::Error::Configuration(error.into())))?;
                // No statement log of sqlx's own, as on SQLite.
                let options = url
                    .parse::<PgConnectOptions>()
                    .map_err(connect_error)?
                    .disable_statement_logging()
                    // Memoize sizes its cache by the table's distinct keys, not the page's: at a
                    // million cruds every feed page zeroed 384 kB to cache 51 rows.
                    .options([("enable_memoize", "off")]);
                // On a connection of their own: the pool's are held to the statement timeout,
                // and a migration may take longer.
                let mut migrating = PgConnection::connect_with(&options)
                    .await
                    .map_err(connect_error)?;
                sqlx::migrate!("./migrations/postgres")
                    .run(&mut migrating)
                    .await
                    .map_err(migrate_error)?;
                let _ = migrating.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(WAIT)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection.execute(SET_STATEMENT_TIMEOUT).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?;
                let info = DatabaseInfo {
                    system: DatabaseSystem::Postgres,
                    namespace: parsed.path().trim_start_matches('/').to_owned(),
                    server: parsed
                        .host_str()
                        .map(|host| (host.to_owned(), parsed.port().unwrap_or(5432))),
                    version: String::new(),
                    url: redact::url(&parsed),
                };
                (Pool::Postgres(pool), info)
            }
        };
        let version = on_pool!(&pool, pool => {
            let version_query = match info.system {
                DatabaseSystem::Sqlite => "SELECT sqlite_version()",
                DatabaseSystem::Postgres => "SHOW server_version",
            };
            sqlx::query_scalar::<_, String>(version_query)
                .fetch_one(pool)
                .await
        })
        .map_err(connect_error)?;
        tracing::info!(database = %database, %version, "the database is ready");
        Ok(Database {
            pool,
            info: Arc::new(DatabaseInfo { version, ..info }),
        })
    }
}

/// How every SQLite connection runs: in WAL mode (readers never wait for the writer),
/// `synchronous = NORMAL` (WAL keeps the database consistent through a power cut; only the
/// last transactions may go), foreign keys enforced, waiting `WAIT` for a lock, and a statement
/// cache that holds every statement. Creates the file's directory if missing.
fn sqlite_options(path: &Path) -> Result<SqliteConnectOptions, DatabaseError> {
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(directory).map_err(|source| DatabaseError::DataDirectory {
            path: directory.display().to_string(),
            source,
        })?;
    }
    // No statement log of sqlx's own: each query is a span already, and its logger asks
    // `tracing::enabled!`, which with this subscriber's per-layer filters leaves the next
    // span on that thread unrecorded (tracing-subscriber 0.3's filter state is not reset).
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(WAIT)
        .foreign_keys(true)
        .statement_cache_capacity(STATEMENT_CACHE)
        .disable_statement_logging())
}

/// Bounds what runs on `connection` while the returned guard lives: past `limit`, SQLite's
/// progress handler interrupts the statement (`SQLITE_INTERRUPT`). Dropping the guard disarms
/// the handler, so a request cancelled mid-statement leaves no deadline behind on a pooled
/// connection. sqlx has no statement timeout for SQLite; its progress handler is the hook.
pub(crate) async fn bound_statements(
    connection: &mut SqliteConnection,
    limit: Duration,
) -> Result<Bounded, sqlx::Error> {
    let armed = Arc::new(AtomicBool::new(true));
    let deadline = Instant::now() + limit;
    let handler_armed = armed.clone();
    connection
        .lock_handle()
        .await?
        .set_progress_handler(PROGRESS_OPS, move || {
            !handler_armed.load(Ordering::Relaxed) || Instant::now() < deadline
        });
    Ok(Bounded(armed))
}

/// Holds a connection's statements to their deadline until dropped (`bound_statements`).
pub(crate) struct Bounded(Arc<AtomicBool>);

impl Drop for Bounded {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_pooled_sqlite_connection_runs_with_the_settings_configuration_sets() {
        let directory = tempfile::tempdir().unwrap();
        let location = DatabaseLocation::Sqlite(directory.path().join("cruddur.db"));
        let Database { pool, .. } = Database::open(&location).await.unwrap();
        let Pool::Sqlite(pool) = pool else {
            panic!("a file opens as SQLite")
        };
        // Held together, so each is a connection of its own.
        let mut connections = Vec::new();
        for _ in 0..3 {
            connections.push(pool.acquire().await.unwrap());
        }
        for connection in &mut connections {
            let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **connection)
                .await
                .unwrap();
            let mut number = async |pragma: &'static str| -> i64 {
                sqlx::query_scalar(pragma)
                    .fetch_one(&mut **connection)
                    .await
                    .unwrap()
            };
            // NORMAL is 1; the busy timeout is in milliseconds.
            let settings = (
                number("PRAGMA synchronous").await,
                number("PRAGMA busy_timeout").await,
                number("PRAGMA foreign_keys").await,
            );
            assert_eq!(journal_mode, "wal");
            assert_eq!(settings, (1, 5000, 1));
        }
    }

    #[tokio::test]
    async fn a_sqlite_statement_past_its_limit_is_interrupted_and_the_connection_then_runs_freely()
    {
        let directory = tempfile::tempdir().unwrap();
        let location = DatabaseLocation::Sqlite(directory.path().join("cruddur.db"));
        let Database { pool, .. } = Database::open(&location).await.unwrap();
        let Pool::Sqlite(pool) = pool else {
            panic!("a file opens as SQLite")
        };
        let mut connection = pool.acquire().await.unwrap();
        // Counts to a billion: minutes of work unless something stops it.
        let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n \
                       WHERE x < 1000000000) SELECT COUNT(*) FROM n";
        let bounded = bound_statements(&mut connection, Duration::from_millis(100))
            .await
            .unwrap();
        let error = tokio::time::timeout(
            Duration::from_secs(10),
            sqlx::query_scalar::<_, i64>(endless).fetch_one(&mut *connection),
        )
        .await
        .expect("interrupted long before it ends")
        .expect_err("interrupted");
        let code = error
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.into_owned());
        assert_eq!(code.as_deref(), Some("9"), "SQLITE_INTERRUPT: {error}");
        drop(bounded);
        std::thread::sleep(Duration::from_millis(150));
        let counted: i64 = sqlx::query_scalar(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) \
             SELECT COUNT(*) FROM n",
        )
        .fetch_one(&mut *connection)
        .await
        .unwrap();
        assert_eq!(counted, 300_000);
    }
}
