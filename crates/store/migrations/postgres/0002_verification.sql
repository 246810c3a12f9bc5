-- Captures, liveness challenges, durable jobs, verification results and image references.
-- No personal data here: images and what is read from documents live encrypted in the blob
-- store; these tables hold blob keys, measurements and check outcomes.

ALTER TABLE sessions ADD COLUMN consented_at timestamptz;
ALTER TABLE sessions ADD COLUMN submitted_at timestamptz;

CREATE TABLE challenges (
    id           object_id   PRIMARY KEY,
    tenant_id    object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id   object_id   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction    text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    answered_at  timestamptz
);
CREATE INDEX challenges_by_session ON challenges (session_id);

CREATE TABLE captures (
    id               object_id   PRIMARY KEY,
    tenant_id        object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id       object_id   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind             text        NOT NULL,
    accepted         boolean     NOT NULL,
    problems         jsonb       NOT NULL,
    summary          jsonb       NOT NULL,
    blobs            jsonb       NOT NULL,
    source           text        NOT NULL,
    challenge_id     object_id   REFERENCES challenges (id) ON DELETE SET NULL,
    idempotency_key  text,
    created_at       timestamptz NOT NULL,
    UNIQUE (session_id, idempotency_key)
);
CREATE INDEX captures_by_session ON captures (session_id, created_at);

CREATE TABLE jobs (
    id           object_id   PRIMARY KEY,
    tenant_id    object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id   object_id   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    state        text        NOT NULL,
    attempts     integer     NOT NULL,
    rerun        boolean     NOT NULL DEFAULT false,
    run_after    timestamptz NOT NULL,
    lease_until  timestamptz,
    worker       text,
    last_error   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (session_id, kind)
);
CREATE INDEX jobs_queued ON jobs (run_after) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE session_results (
    session_id          object_id   PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id           object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    document            jsonb,
    document_data_blob  text,
    face                jsonb,
    liveness            jsonb,
    scores              jsonb,
    updated_at          timestamptz NOT NULL
);

CREATE TABLE session_images (
    session_id  object_id   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id   object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    blob_key    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, name)
);
