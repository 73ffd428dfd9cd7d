//! The databases the tests run on: a SQLite file in a temporary directory, or a database of
//! its own on one throwaway PostgreSQL cluster per test binary. The cluster is initdb'd into a
//! temporary directory and run as a non-root user on a free loopback port, with its sockets in
//! that directory; a watchdog shell stops it and removes the directory when this process ends,
//! however it ends (its stdin, held open by this process, closes).
//!
//! Without PostgreSQL installed the PostgreSQL tests say they are skipped; in CI (`CI=true`)
//! that is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use backend::configuration::Settings;
use backend::database::Database;
use backend::repository::SqlRepository;
use sqlx::Connection;

/// Which database a test's app keeps its data in; held for the test's length.
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres { url: String },
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        TestDatabase::Sqlite(tempfile::tempdir().expect("a temporary data directory"))
    }

    /// A fresh database on this binary's cluster, or None when PostgreSQL is not installed
    /// (said on stderr; a failure in CI).
    pub async fn postgres() -> Option<Self> {
        let port = match CLUSTER.get_or_init(Cluster::start) {
            Ok(cluster) => cluster.port,
            Err(reason) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and PostgreSQL cannot run: {reason}"
                );
                // Past the harness's capture, so it shows even when the tests pass.
                SAID_SKIPPED.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "\nSKIPPED: the tests on PostgreSQL, because {reason} \
                         (scripts/setup.sh installs it; CI=true makes this a failure)\n"
                    );
                });
                return None;
            }
        };
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
                .await
                .expect("the test cluster takes connections");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("the test database is created");
        Some(TestDatabase::Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/{name}"),
        })
    }

    /// The repository on this database, opened and migrated as the app does.
    pub async fn repository(&self) -> SqlRepository {
        let (variable, value) = self.env();
        let settings = Settings::from_lookup(|name| (name == variable).then(|| value.clone()))
            .expect("the test settings are valid");
        let database = Database::open(&settings.database.location)
            .await
            .expect("the database opens");
        SqlRepository::new(database)
    }

    /// A connection of its own to this SQLite database, beside the app's.
    pub async fn sqlite_connection(&self) -> sqlx::SqliteConnection {
        let TestDatabase::Sqlite(directory) = self else {
            panic!("a SQLite test database")
        };
        let file = directory.path().join("cruddur.db");
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .expect("the SQLite file opens")
    }

    /// Runs `sql` (statements separated by `;`) on a connection of its own, beside the app's.
    pub async fn execute(&self, sql: String) {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            TestDatabase::Sqlite(_) => {
                let mut connection = self.sqlite_connection().await;
                sqlx::raw_sql(sql).execute(&mut connection).await.unwrap();
            }
            TestDatabase::Postgres { url } => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut connection).await.unwrap();
            }
        }
    }

    /// Creates the schema as its migrations up to `version` leave it, as a Cruddur of that
    /// time would have.
    pub async fn migrate_to(&self, version: i64) {
        match self {
            TestDatabase::Sqlite(_) => {
                let mut connection = self.sqlite_connection().await;
                sqlx::migrate!("./migrations/sqlite")
                    .run_to(version, &mut connection)
                    .await
                    .unwrap();
            }
            TestDatabase::Postgres { url } => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::migrate!("./migrations/postgres")
                    .run_to(version, &mut connection)
                    .await
                    .unwrap();
            }
        }
    }

    /// The variable that points the backend at this database.
    pub fn env(&self) -> (&'static str, String) {
        match self {
            TestDatabase::Sqlite(directory) => (
                "CRUDDUR_DATA_DIR",
                directory.path().to_str().unwrap().to_owned(),
            ),
            TestDatabase::Postgres { url } => ("DATABASE_URL", url.clone()),
        }
    }
}

/// Runs each named `async fn(TestDatabase)` as a test on SQLite and one on PostgreSQL.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::databases::TestDatabase::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(database) = crate::databases::TestDatabase::postgres().await {
                        super::$test(database).await
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both_databases;

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static SAID_SKIPPED: Once = Once::new();

struct Cluster {
    port: u16,
    /// The watchdog; its stdin closes when this process exits, and it stops the cluster.
    _watchdog: Child,
}

impl Cluster {
    fn start() -> Result<Cluster, String> {
        let bin = postgres_bin().ok_or("there is no /usr/lib/postgresql/*/bin/initdb")?;
        let directory = tempfile::Builder::new()
            .prefix("cruddur-postgres-")
            .tempdir()
            .map_err(|error| error.to_string())?
            .keep();
        let run_as = RunAs::for_this_process(&directory)?;
        let data = directory.join("data");
        let initdb = run_as
            .command(&bin.join("initdb"))
            .args(["-D", data.to_str().unwrap()])
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .map_err(|error| format!("initdb: {error}"))?;
        if !initdb.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let port = free_port();
        let postgres = run_as.prefix_words(&bin.join("postgres"));
        // Durability is not wanted from a throwaway cluster: fsync and friends off.
        let script = format!(
            "{postgres} -D \"$0/data\" -p {port} -k \"$0\" -h 127.0.0.1 -F \
             -c max_connections=300 -c synchronous_commit=off -c full_page_writes=off \
             >\"$0/log\" 2>&1 & pid=$!; read _; kill -INT $pid; wait $pid; rm -rf \"$0\""
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script, directory.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start postgres: {error}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = || {
            Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|status| status.success())
        };
        while !ready() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(directory.join("log")).unwrap_or_default();
                return Err(format!("postgres did not start on port {port}: {log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Cluster {
            port,
            _watchdog: watchdog,
        })
    }
}

/// PostgreSQL refuses to run as root: as root (as in CI), the cluster runs as `postgres`.
enum RunAs {
    Myself,
    Postgres,
}

impl RunAs {
    fn for_this_process(directory: &Path) -> Result<RunAs, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|error| error.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Ok(RunAs::Myself);
        }
        let chown = Command::new("chown")
            .args(["-R", "postgres:", directory.to_str().unwrap()])
            .status()
            .map_err(|error| error.to_string())?;
        if !chown.success() {
            return Err("running as root and there is no postgres user to run the cluster".into());
        }
        Ok(RunAs::Postgres)
    }

    fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Myself => Command::new(program),
            RunAs::Postgres => {
                let mut command = Command::new("setpriv");
                command.args(SETPRIV_POSTGRES).arg(program);
                command
            }
        }
    }

    /// The command line that runs `program` as this user, for the watchdog's shell.
    fn prefix_words(&self, program: &Path) -> String {
        let program = program.to_str().unwrap();
        match self {
            RunAs::Myself => program.to_owned(),
            RunAs::Postgres => format!("setpriv {} {program}", SETPRIV_POSTGRES.join(" ")),
        }
    }
}

/// setpriv execs the program itself, so the watchdog's signal reaches postgres.
const SETPRIV_POSTGRES: [&str; 5] = [
    "--reuid=postgres",
    "--regid=postgres",
    "--init-groups",
    "--reset-env",
    "--",
];

/// The newest installed PostgreSQL's programs (Debian keeps them off PATH).
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
