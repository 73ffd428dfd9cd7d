-- Cruddur's data. Timestamps are microseconds since the Unix epoch (UTC) and uuids hyphenated
-- text, the same in both databases, so one set of queries serves SQLite and PostgreSQL.
CREATE TABLE users (
    handle TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL
);

CREATE TABLE activities (
    uuid TEXT PRIMARY KEY NOT NULL,
    user_handle TEXT NOT NULL REFERENCES users (handle),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    likes_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX activities_by_time ON activities (created_at, uuid);
CREATE INDEX activities_by_user ON activities (user_handle, created_at, uuid);
CREATE INDEX activities_by_expiry ON activities (expires_at);

-- Who an activity is a notification for.
CREATE TABLE notifications (
    activity_uuid TEXT NOT NULL REFERENCES activities (uuid) ON DELETE CASCADE,
    user_handle TEXT NOT NULL REFERENCES users (handle),
    PRIMARY KEY (user_handle, activity_uuid)
);
CREATE INDEX notifications_by_activity ON notifications (activity_uuid);

CREATE TABLE replies (
    uuid TEXT PRIMARY KEY NOT NULL,
    activity_uuid TEXT NOT NULL REFERENCES activities (uuid) ON DELETE CASCADE,
    user_handle TEXT NOT NULL REFERENCES users (handle),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX replies_by_activity ON replies (activity_uuid, created_at, uuid);

-- Two members, the lesser handle first, so a pair has one conversation whoever starts it.
-- last_message_at orders the Messages page; it moves with every message, in its transaction.
CREATE TABLE conversations (
    uuid TEXT PRIMARY KEY NOT NULL,
    first_handle TEXT NOT NULL REFERENCES users (handle),
    second_handle TEXT NOT NULL REFERENCES users (handle),
    last_message_at BIGINT NOT NULL,
    UNIQUE (first_handle, second_handle)
);
CREATE INDEX conversations_by_first ON conversations (first_handle, last_message_at, uuid);
CREATE INDEX conversations_by_second ON conversations (second_handle, last_message_at, uuid);

CREATE TABLE messages (
    uuid TEXT PRIMARY KEY NOT NULL,
    conversation_uuid TEXT NOT NULL REFERENCES conversations (uuid),
    sender_handle TEXT NOT NULL REFERENCES users (handle),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_uuid, created_at, uuid);

-- Cruddur's users until sign-up exists; every request acts as andrewbrown.
INSERT INTO users (handle, display_name) VALUES
    ('andrewbrown', 'Andrew Brown'),
    ('worf', 'Worf'),
    ('garek', 'Garek'),
    ('coco', 'Coco');
