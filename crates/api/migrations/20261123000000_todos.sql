-- Per-user todos. Portable between SQLite and PostgreSQL: text ids (UUID v4, made by the
-- API), 0/1 for done, times as Unix microseconds.
CREATE TABLE IF NOT EXISTS todos (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS todos_by_owner ON todos (owner, created_at);
