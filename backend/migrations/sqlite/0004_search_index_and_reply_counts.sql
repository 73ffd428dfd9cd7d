-- Search's index: every run of three characters of each crud's folded message (FTS5's trigram
-- tokenizer, case-sensitive because the text is folded already), so a term of three or more
-- characters finds its cruds without reading every crud. Rows only (`detail = 'none'`): search
-- asks which cruds hold each of a term's trigrams, then compares the whole term with those
-- cruds' messages. Contentless: the text stays in `activities`, and the triggers below keep
-- the index in step with it in the same transaction as every write. Keyed by the crud's rowid.
CREATE VIRTUAL TABLE activities_search USING fts5(
    message_folded,
    content = '',
    columnsize = 0,
    detail = 'none',
    tokenize = 'trigram case_sensitive 1'
);

-- The cruds stored before this index.
INSERT INTO activities_search (rowid, message_folded) SELECT rowid, message_folded FROM activities;

CREATE TRIGGER activities_search_insert AFTER INSERT ON activities BEGIN
    INSERT INTO activities_search (rowid, message_folded) VALUES (new.rowid, new.message_folded);
END;

-- A contentless index forgets a row by being told the text it indexed.
CREATE TRIGGER activities_search_delete AFTER DELETE ON activities BEGIN
    INSERT INTO activities_search (activities_search, rowid, message_folded)
    VALUES ('delete', old.rowid, old.message_folded);
END;

CREATE TRIGGER activities_search_update AFTER UPDATE OF message_folded ON activities BEGIN
    INSERT INTO activities_search (activities_search, rowid, message_folded)
    VALUES ('delete', old.rowid, old.message_folded);
    INSERT INTO activities_search (rowid, message_folded) VALUES (new.rowid, new.message_folded);
END;

-- The cruds whose messages startup still has to fold, found without reading every crud.
CREATE INDEX activities_unfolded ON activities (uuid) WHERE message_folded = '';

-- Each crud's number of replies, kept by the triggers below in the transaction of every reply
-- written or deleted: a page reads it rather than counting the replies of each of its cruds,
-- which costs as many steps as the crud has replies.
ALTER TABLE activities ADD COLUMN replies_count INTEGER NOT NULL DEFAULT 0;
UPDATE activities SET replies_count = (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = activities.uuid);

CREATE TRIGGER replies_count_insert AFTER INSERT ON replies BEGIN
    UPDATE activities SET replies_count = replies_count + 1 WHERE uuid = new.activity_uuid;
END;

CREATE TRIGGER replies_count_delete AFTER DELETE ON replies BEGIN
    UPDATE activities SET replies_count = replies_count - 1 WHERE uuid = old.activity_uuid;
END;

-- A notification's crud's time, so a user's notifications are read newest first through their
-- own index, however few of all cruds they are. Set from the crud as each notification is
-- written (a crud's time never changes), and for the notifications stored before.
ALTER TABLE notifications ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE notifications
SET created_at = (SELECT a.created_at FROM activities a WHERE a.uuid = notifications.activity_uuid);
CREATE INDEX notifications_by_time ON notifications (user_handle, created_at, activity_uuid);

CREATE TRIGGER notifications_created_at AFTER INSERT ON notifications BEGIN
    UPDATE notifications
    SET created_at = (SELECT a.created_at FROM activities a WHERE a.uuid = new.activity_uuid)
    WHERE user_handle = new.user_handle AND activity_uuid = new.activity_uuid;
END;
