-- Captures, liveness challenges, durable jobs, verification results and image references.
-- No personal data here: images and what is read from documents live encrypted in the blob
-- store; these tables hold blob keys, measurements and check outcomes.

ALTER TABLE sessions ADD COLUMN consented_at INTEGER;
ALTER TABLE sessions ADD COLUMN submitted_at INTEGER;

CREATE TABLE challenges (
    id           TEXT    PRIMARY KEY NOT NULL,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id   TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    answered_at  INTEGER
) STRICT;
CREATE INDEX challenges_by_session ON challenges (session_id);

CREATE TABLE captures (
    id               TEXT    PRIMARY KEY NOT NULL,
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,
    accepted         INTEGER NOT NULL,
    problems         TEXT    NOT NULL,   -- JSON array of problem codes
    summary          TEXT    NOT NULL,   -- JSON CaptureSummary
    blobs            TEXT    NOT NULL,   -- JSON array of blob keys
    source           TEXT    NOT NULL,
    challenge_id     TEXT    REFERENCES challenges (id) ON DELETE SET NULL,
    idempotency_key  TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (session_id, idempotency_key)
) STRICT;
CREATE INDEX captures_by_session ON captures (session_id, created_at);

CREATE TABLE jobs (
    id           TEXT    PRIMARY KEY NOT NULL,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id   TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    rerun        INTEGER NOT NULL DEFAULT 0,
    run_after    INTEGER NOT NULL,
    lease_until  INTEGER,
    worker       TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (session_id, kind)
) STRICT;
CREATE INDEX jobs_queued ON jobs (run_after) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE session_results (
    session_id          TEXT    PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id           TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    document            TEXT,   -- JSON DocumentFindings
    document_data_blob  TEXT,   -- blob key of the encrypted DocumentData
    face                TEXT,   -- JSON FaceFindings
    liveness            TEXT,   -- JSON LivenessFindings
    scores              TEXT,   -- JSON Scores
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE session_images (
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    blob_key    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, name)
) STRICT, WITHOUT ROWID;
