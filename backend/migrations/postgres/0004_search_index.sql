-- Search's index: the trigrams of each crud's folded message (pg_trgm, shipped with
-- PostgreSQL and trusted, so the database's owner may create it), which answer a LIKE
-- '%term%' for a term of three or more characters without reading every crud; PostgreSQL
-- compares the whole term with each crud the index names.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX activities_search ON activities USING gin (message_folded gin_trgm_ops);

-- The cruds whose messages startup still has to fold, found without reading every crud.
CREATE INDEX activities_unfolded ON activities (uuid) WHERE message_folded = '';
