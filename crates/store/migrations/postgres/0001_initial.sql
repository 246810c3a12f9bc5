-- Tenants and their credentials, flows, sessions, bearer secrets, administrators.
-- Append-only: never edit a migration that has been released; add a new one.

CREATE DOMAIN object_id AS text CHECK (VALUE ~ '^[0-9a-f]{24}$');

CREATE TABLE tenants (
    id          object_id   PRIMARY KEY,
    client_id   text        NOT NULL UNIQUE,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id              object_id   PRIMARY KEY,
    tenant_id       object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash        bytea       NOT NULL UNIQUE,
    label           text        NOT NULL,
    display_prefix  text        NOT NULL,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE flows (
    id          object_id   PRIMARY KEY,
    tenant_id   object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    config      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX flows_by_tenant ON flows (tenant_id, created_at);

CREATE TABLE sessions (
    id                    object_id   PRIMARY KEY,
    tenant_id             object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    flow_id               object_id   NOT NULL REFERENCES flows (id),
    interview_code        text        NOT NULL,
    status                text        NOT NULL,
    external_customer_id  text,
    redirection_url       text,
    country_code          text        NOT NULL,
    language              text        NOT NULL,
    custom_fields         jsonb       NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    finished_at           timestamptz
);
CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at);
CREATE INDEX sessions_by_external_id ON sessions (tenant_id, external_customer_id);
CREATE INDEX sessions_open_by_expiry ON sessions (expires_at)
    WHERE status NOT IN ('ONBOARDING_FINISHED', 'MANUAL_REVIEW_APPROVED', 'MANUAL_REVIEW_REJECTED', 'EXPIRED');

CREATE TABLE admins (
    id             object_id   PRIMARY KEY,
    tenant_id      object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email          text        NOT NULL,
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, email)
);

-- Session, executive, link and flow tokens, by SHA-256 of the token.
CREATE TABLE secrets (
    hash        bytea       PRIMARY KEY,
    kind        text        NOT NULL,
    tenant_id   object_id   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id  object_id   REFERENCES sessions (id) ON DELETE CASCADE,
    admin_id    object_id   REFERENCES admins (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX secrets_by_expiry ON secrets (expires_at);
CREATE INDEX secrets_by_session ON secrets (session_id);
