-- One row per onboarding attempt (one /omni/start). A user may have several: Incode asks for a
-- new session per attempt, even for the same person.
CREATE TABLE onboarding_sessions (
    -- 24 hex characters on veriframe and Incode; kept as text so neither format is assumed.
    interview_id TEXT PRIMARY KEY NOT NULL,
    -- The integrator's own user id, sent as externalCustomerId.
    user_id TEXT NOT NULL,
    -- Bearer credential for the /0/omni/* calls of this session (90 days by default): treat
    -- this database like a secrets store.
    token TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- What /fetch-score last decided: OK, WARN, FAIL or UNKNOWN, and whether it is final.
    decision TEXT,
    decision_final INTEGER,
    reason TEXT,
    id_validation_status TEXT,
    liveness_status TEXT,
    face_recognition_status TEXT,
    decided_at_ms INTEGER
);

CREATE INDEX onboarding_sessions_user ON onboarding_sessions (user_id, created_at_ms);
