-- Tenants and their credentials, flows, sessions, bearer secrets, administrators.
-- Timestamps are integer milliseconds since the Unix epoch (UTC).
-- Append-only: never edit a migration that has been released; add a new one.

CREATE TABLE tenants (
    id          TEXT    PRIMARY KEY NOT NULL,
    client_id   TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id              TEXT    PRIMARY KEY NOT NULL,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash        BLOB    NOT NULL UNIQUE,
    label           TEXT    NOT NULL,
    display_prefix  TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE flows (
    id          TEXT    PRIMARY KEY NOT NULL,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    config      TEXT    NOT NULL,    -- FlowConfig as JSON
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX flows_by_tenant ON flows (tenant_id, created_at);

CREATE TABLE sessions (
    id                    TEXT    PRIMARY KEY NOT NULL,
    tenant_id             TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    flow_id               TEXT    NOT NULL REFERENCES flows (id),
    interview_code        TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    external_customer_id  TEXT,
    redirection_url       TEXT,
    country_code          TEXT    NOT NULL,
    language              TEXT    NOT NULL,
    custom_fields         TEXT    NOT NULL,    -- JSON object of strings
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    finished_at           INTEGER
) STRICT;
CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at);
CREATE INDEX sessions_by_external_id ON sessions (tenant_id, external_customer_id);
CREATE INDEX sessions_open_by_expiry ON sessions (expires_at)
    WHERE status NOT IN ('ONBOARDING_FINISHED', 'MANUAL_REVIEW_APPROVED', 'MANUAL_REVIEW_REJECTED', 'EXPIRED');

CREATE TABLE admins (
    id             TEXT    PRIMARY KEY NOT NULL,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email          TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
) STRICT;

-- Session, executive, link and flow tokens, by SHA-256 of the token.
CREATE TABLE secrets (
    hash        BLOB    PRIMARY KEY NOT NULL,
    kind        TEXT    NOT NULL,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id  TEXT    REFERENCES sessions (id) ON DELETE CASCADE,
    admin_id    TEXT    REFERENCES admins (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX secrets_by_expiry ON secrets (expires_at);
CREATE INDEX secrets_by_session ON secrets (session_id);
