-- Each client's write budget on PostgreSQL, one token bucket a row, shared by every instance on
-- this database (repository/write_budgets.rs). SQLite has no such table: one process serves a
-- SQLite file, and its budget stays in that process's memory.
-- UNLOGGED: a bucket lost to a crash is a bucket full again, which costs nothing worth the WAL
-- every write would otherwise add.
CREATE UNLOGGED TABLE write_budgets (
    client TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    spent_at TIMESTAMPTZ NOT NULL
);
-- The sweep deletes the buckets idle long enough to be full again.
CREATE INDEX write_budgets_spent_at ON write_budgets (spent_at);
