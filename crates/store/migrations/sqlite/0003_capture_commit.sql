-- Idempotency keys are scoped to the session *and* the capture kind: the same key sent for
-- another kind is another request, not a replay. SQLite cannot alter a table constraint, so the
-- table is rebuilt with the same columns.

CREATE TABLE captures_new (
    id               TEXT    PRIMARY KEY NOT NULL,
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,
    accepted         INTEGER NOT NULL,
    problems         TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    blobs            TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    challenge_id     TEXT    REFERENCES challenges (id) ON DELETE SET NULL,
    idempotency_key  TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (session_id, kind, idempotency_key)
) STRICT;

INSERT INTO captures_new (id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source,
                          challenge_id, idempotency_key, created_at)
SELECT id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source,
       challenge_id, idempotency_key, created_at
FROM captures;

DROP TABLE captures;
ALTER TABLE captures_new RENAME TO captures;
CREATE INDEX captures_by_session ON captures (session_id, created_at);
-- The reconciler looks for recent accepted captures whose job is missing.
CREATE INDEX captures_accepted_by_time ON captures (created_at) WHERE accepted = 1;
