//! The database's variables: where the cruds are kept, and whether an empty database is
//! seeded.

use std::path::PathBuf;

use crate::environment::{ConfigurationError, Env, switch};
use crate::redact;

/// Where the cruds are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: a `postgres://` URL, or unset for a SQLite file under `CRUDDUR_DATA_DIR`
    /// (`./data`).
    pub location: DatabaseLocation,
    /// `CRUDDUR_SEED_DATA` (on), a switch: fill an empty database with the week-2 seed cruds,
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

impl DatabaseSettings {
    pub fn read(env: &Env) -> Result<Self, ConfigurationError> {
        Ok(DatabaseSettings {
            location: database_location_from(env.var("DATABASE_URL"), env.var("CRUDDUR_DATA_DIR"))?,
            seed_data: seed_data_enabled(env.var("CRUDDUR_SEED_DATA"))?,
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

fn seed_data_enabled(value: Option<String>) -> Result<bool, ConfigurationError> {
    switch("CRUDDUR_SEED_DATA", value, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn seed_data_is_on_unless_switched_off() {
        assert!(seed_data_enabled(None).unwrap());
        assert!(seed_data_enabled(Some(" ON ".into())).unwrap());
        assert!(!seed_data_enabled(Some("off".into())).unwrap());
        assert!(seed_data_enabled(Some("no".into())).is_err());
    }
}
