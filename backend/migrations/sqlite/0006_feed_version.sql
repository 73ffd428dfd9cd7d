-- A number that moves whenever what a feed shows may have: a crud, a reply, or an author's
-- name. A page read after the number is current for as long as it stays the same, so the home
-- page is kept between requests on that condition, and stays right whichever instance or tool
-- wrote the change. One counter: SQLite has one writer at a time anyway, so it makes no write
-- wait longer (PostgreSQL's has 16).
CREATE TABLE feed_version (
    slot INTEGER PRIMARY KEY,
    version INTEGER NOT NULL
);
INSERT INTO feed_version (slot, version) VALUES (0, 0);

CREATE TRIGGER feed_version_activity_insert AFTER INSERT ON activities BEGIN
    UPDATE feed_version SET version = version + 1;
END;
CREATE TRIGGER feed_version_activity_update AFTER UPDATE ON activities BEGIN
    UPDATE feed_version SET version = version + 1;
END;
CREATE TRIGGER feed_version_activity_delete AFTER DELETE ON activities BEGIN
    UPDATE feed_version SET version = version + 1;
END;
CREATE TRIGGER feed_version_reply_insert AFTER INSERT ON replies BEGIN
    UPDATE feed_version SET version = version + 1;
END;
CREATE TRIGGER feed_version_reply_update AFTER UPDATE ON replies BEGIN
    UPDATE feed_version SET version = version + 1;
END;
CREATE TRIGGER feed_version_reply_delete AFTER DELETE ON replies BEGIN
    UPDATE feed_version SET version = version + 1;
END;
-- The health probe writes a name over itself, which changes nothing shown.
CREATE TRIGGER feed_version_user_name AFTER UPDATE OF display_name ON users
    WHEN old.display_name IS NOT new.display_name BEGIN
    UPDATE feed_version SET version = version + 1;
END;
