//! Every query is a CLIENT span named after its operation and table, carrying the statement
//! with its placeholders, never the values.

use std::future::Future;
use std::sync::Arc;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::super::RepositoryResult;
use super::{SqlRepository, Statement, classify};
use crate::database::DatabaseInfo;

/// What every query's span says about the database. The strings are reference-counted, so
/// each span shares them rather than copying them.
pub(in crate::repository) fn span_attributes(info: &DatabaseInfo) -> Vec<KeyValue> {
    let shared = |text: &str| StringValue::from(Arc::<str>::from(text));
    let mut attributes = vec![
        KeyValue::new(semconv::DB_SYSTEM_NAME, info.system.name()),
        KeyValue::new(semconv::DB_NAMESPACE, shared(&info.namespace)),
    ];
    if let Some((address, port)) = &info.server {
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, shared(address)));
        attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(*port)));
    }
    // For X-Ray's `sql` block, which has no conventions of its own to come from.
    attributes.push(KeyValue::new(
        DatabaseInfo::VERSION_ATTRIBUTE,
        shared(&info.version),
    ));
    attributes.push(KeyValue::new(
        DatabaseInfo::URL_ATTRIBUTE,
        shared(&info.url),
    ));
    attributes
}

/// The short name of what went wrong, for `error.type`.
fn error_type(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => database
            .code()
            .map_or_else(|| "database".to_owned(), |code| code.into_owned()),
        sqlx::Error::PoolTimedOut => "pool_timed_out".to_owned(),
        sqlx::Error::Io(_) => "io".to_owned(),
        _ => "sqlx".to_owned(),
    }
}

impl SqlRepository {
    /// Runs `query` as `statement`'s CLIENT span.
    pub(super) async fn traced<T>(
        &self,
        statement: &Statement,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> RepositoryResult<T> {
        self.traced_text(statement, statement.sql, query).await
    }

    pub(super) async fn traced_text<T>(
        &self,
        statement: &Statement,
        sql: &'static str,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> RepositoryResult<T> {
        traced_query(&self.span_attributes, statement, sql, query).await
    }
}

/// Runs `query` (`sql`, as `statement` names it) as a CLIENT span with `database`'s attributes.
pub(in crate::repository) async fn traced_query<T>(
    database: &[KeyValue],
    statement: &Statement,
    sql: &'static str,
    query: impl Future<Output = Result<T, sqlx::Error>>,
) -> RepositoryResult<T> {
    let span = tracing::info_span!(
        "database query",
        otel.name = format_args!("{} {}", statement.operation, statement.collection),
        otel.kind = "client",
    );
    if !span.is_disabled() {
        // One look-up of the span for all its attributes, where each `set_attribute` would
        // find it again; this starts its OpenTelemetry span, which closing it would anyway.
        // The statement's strings are static and the database's shared: none is copied.
        span.context().span().set_attributes(
            [
                KeyValue::new(semconv::DB_OPERATION_NAME, statement.operation),
                KeyValue::new(semconv::DB_COLLECTION_NAME, statement.collection),
                KeyValue::new(semconv::DB_QUERY_TEXT, sql),
            ]
            .into_iter()
            .chain(database.iter().cloned()),
        );
    }
    let result = async {
        let result = query.await;
        if let Err(error) = &result {
            let span = Span::current();
            span.set_attribute(semconv::ERROR_TYPE, error_type(error));
            span.set_status(Status::error(error.to_string()));
        }
        result
    }
    .instrument(span)
    .await;
    result.map_err(classify)
}
