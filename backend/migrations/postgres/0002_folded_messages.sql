-- Each crud's message in lower case as Rust folds it (every script, not only ASCII), so that
-- search ignores case the same on both databases: SQLite's lower() folds ASCII only, and
-- PostgreSQL's depends on the database's collation. Rows from before are folded at startup.
ALTER TABLE activities ADD COLUMN message_folded TEXT NOT NULL DEFAULT '';
