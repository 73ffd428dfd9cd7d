//! The write budget kept in PostgreSQL, so that behind a load balancer a client has one budget
//! across every instance rather than one in each. A token bucket a client, taken from in one
//! atomic statement: the row's lock orders concurrent writes from any instance, and the
//! database's clock is the only clock, so instances whose clocks differ agree on the refill.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use sqlx::PgPool;

use super::RepositoryResult;
use super::sql::{Statement, classify, span_attributes, traced_query};
use crate::database::{Database, Pool};

/// Refills the bucket for the time since it was last spent (never backwards: a statement that
/// waited for the row's lock may have started before the one it waited for), and takes one
/// token when there is one. No row comes back when there is none, and nothing changes.
const TAKE_ONE: Statement = Statement {
    operation: "INSERT",
    collection: "write_budgets",
    sql: "INSERT INTO write_budgets AS budget (client, tokens, spent_at) \
     VALUES ($1, $2 - 1, now()) \
     ON CONFLICT (client) DO UPDATE SET \
     tokens = LEAST($2, budget.tokens \
         + $3 * GREATEST(0, EXTRACT(EPOCH FROM now() - budget.spent_at)::float8)) - 1, \
     spent_at = GREATEST(now(), budget.spent_at) \
     WHERE LEAST($2, budget.tokens \
         + $3 * GREATEST(0, EXTRACT(EPOCH FROM now() - budget.spent_at)::float8)) >= 1 \
     RETURNING tokens",
};
/// A bucket idle for a whole period is full again, the same as no row at all. Untraced, like
/// the expiry sweep: no request asks for it.
const FORGET_IDLE: &str =
    "DELETE FROM write_budgets WHERE spent_at < now() - make_interval(secs => $1)";

/// `per_period` writes every `period` for each client, as many at once, on the database.
#[derive(Clone)]
pub struct SharedWriteBudgets {
    pool: PgPool,
    /// The database's attributes on each statement's span.
    span_attributes: Arc<[KeyValue]>,
    per_period: u32,
    period: Duration,
}

impl SharedWriteBudgets {
    /// The budgets on `database` when it is PostgreSQL; None on SQLite, whose one process
    /// keeps them in memory.
    pub fn on(database: &Database, per_period: u32, period: Duration) -> Option<Self> {
        let Pool::Postgres(pool) = &database.pool else {
            return None;
        };
        Some(SharedWriteBudgets {
            pool: pool.clone(),
            span_attributes: span_attributes(&database.info).into(),
            per_period: per_period.max(1),
            period,
        })
    }

    /// Takes one write from `client`'s bucket (`client` already its rate-limit key), or says
    /// how long to wait: at most the time one token takes to come back, since the statement
    /// that refuses changes nothing and so reports no balance.
    pub async fn take(&self, client: IpAddr) -> RepositoryResult<Result<(), Duration>> {
        let burst = f64::from(self.per_period);
        let per_second = burst / self.period.as_secs_f64();
        let query = sqlx::query_scalar::<_, f64>(TAKE_ONE.sql)
            .bind(client.to_string())
            .bind(burst)
            .bind(per_second)
            .fetch_optional(&self.pool);
        let taken = traced_query(&self.span_attributes, &TAKE_ONE, TAKE_ONE.sql, query).await?;
        Ok(match taken {
            Some(_) => Ok(()),
            None => Err(self.period / self.per_period),
        })
    }

    /// Deletes the buckets idle for a whole period; returns how many.
    pub async fn forget_idle_clients(&self) -> RepositoryResult<u64> {
        sqlx::query(FORGET_IDLE)
            .bind(self.period.as_secs_f64())
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(classify)
    }
}
