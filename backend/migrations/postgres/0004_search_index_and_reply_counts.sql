-- Search's index: the trigrams of each crud's folded message (pg_trgm, shipped with
-- PostgreSQL and trusted, so the database's owner may create it), which answer a LIKE
-- '%term%' for a term of three or more characters without reading every crud; PostgreSQL
-- compares the whole term with each crud the index names.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX activities_search ON activities USING gin (message_folded gin_trgm_ops);

-- The cruds whose messages startup still has to fold, found without reading every crud.
CREATE INDEX activities_unfolded ON activities (uuid) WHERE message_folded = '';

-- Each crud's number of replies, kept by the trigger below in the transaction of every reply
-- written or deleted: a page reads it rather than counting the replies of each of its cruds,
-- which costs as many steps as the crud has replies.
ALTER TABLE activities ADD COLUMN replies_count BIGINT NOT NULL DEFAULT 0;
UPDATE activities a SET replies_count = counted.replies
FROM (SELECT activity_uuid, COUNT(*) AS replies FROM replies GROUP BY activity_uuid) counted
WHERE a.uuid = counted.activity_uuid;

CREATE FUNCTION count_replies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE activities SET replies_count = replies_count + 1 WHERE uuid = NEW.activity_uuid;
    ELSE
        UPDATE activities SET replies_count = replies_count - 1 WHERE uuid = OLD.activity_uuid;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER replies_count AFTER INSERT OR DELETE ON replies
    FOR EACH ROW EXECUTE FUNCTION count_replies();

-- A notification's crud's time, so a user's notifications are read newest first through their
-- own index, however few of all cruds they are. Set from the crud as each notification is
-- written (a crud's time never changes), and for the notifications stored before.
ALTER TABLE notifications ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
UPDATE notifications n SET created_at = a.created_at FROM activities a WHERE a.uuid = n.activity_uuid;
CREATE INDEX notifications_by_time ON notifications (user_handle, created_at, activity_uuid);

CREATE FUNCTION notification_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := (SELECT a.created_at FROM activities a WHERE a.uuid = NEW.activity_uuid);
    RETURN NEW;
END
$$;

CREATE TRIGGER notifications_created_at BEFORE INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notification_created_at();
