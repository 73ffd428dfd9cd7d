-- A number that moves whenever what a feed shows may have: a crud, a reply, or an author's
-- name. A page read after the number is current for as long as it stays the same, so the home
-- page is kept between requests on that condition, and stays right whichever instance or tool
-- wrote the change. The number is the sum of 16 counters: a write moves one that no open
-- transaction holds, so writers do not wait on each other for it (one counter would hold every
-- write to the feed until the one before it commits), and waits only when all 16 are held.
-- Once a statement, not a row, so a bulk write moves it once.
CREATE TABLE feed_version (
    slot INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO feed_version (slot, version) SELECT slot, 0 FROM generate_series(0, 15) AS slot;

CREATE FUNCTION move_feed_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE feed_version SET version = version + 1 WHERE slot =
        (SELECT slot FROM feed_version ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF NOT FOUND THEN
        UPDATE feed_version SET version = version + 1 WHERE slot = floor(random() * 16)::integer;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER feed_version_activities AFTER INSERT OR UPDATE OR DELETE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION move_feed_version();
CREATE TRIGGER feed_version_replies AFTER INSERT OR UPDATE OR DELETE ON replies
    FOR EACH STATEMENT EXECUTE FUNCTION move_feed_version();
-- The health probe writes a name over itself, which changes nothing shown.
CREATE TRIGGER feed_version_user_name AFTER UPDATE OF display_name ON users
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION move_feed_version();
